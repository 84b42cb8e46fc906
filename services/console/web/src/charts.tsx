// Charts drawn with Chart.js (bundled, served by the hub), only the parts the console uses. Loaded
// by the statistics view when it is first shown (its own chunk, most of the console's weight), so
// that signing in and the case views do not wait for it. Each chart is an image with a label for screen readers; the numbers are
// also in a table beside it.
import { useEffect, useRef } from 'preact/hooks';
import { Chart, BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip, type ChartConfiguration } from 'chart.js';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip);
Chart.defaults.font.family = 'system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
// Views are redrawn on every filter: no animation to wait for (nor for the tests' screenshots).
Chart.defaults.animation = false;

export function ChartCanvas({ config, label, id }: { config: ChartConfiguration; label: string; id?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, { ...config, options: { responsive: true, maintainAspectRatio: false, ...config.options } });
    return () => chart.destroy();
  }, [config]);
  return (
    <div class="chart">
      <canvas ref={canvas} id={id} role="img" aria-label={label} />
    </div>
  );
}
