import { HubError } from '../core/kernel/errors';
import { readCalendarFile, summariseYear } from '../core/calendar/calendar-file';
import { WorkingCalendar } from '../core/calendar/working-calendar';

type Out = { out: (s: string) => void; err: (s: string) => void };

const USAGE = 'usage: hub calendar check FILE…   check holiday calendar files (contracts/calendar/<year>.yaml)\n';

/**
 * `hub calendar check FILE…`: checks each calendar file and prints a one-line summary of each
 * (days off, adjusted working days, working days in the year). Exit 0 when every file is valid,
 * 1 when one is not (the reason on stderr), 2 on a usage error.
 */
export async function calendarCommand(args: string[], io: Out): Promise<number> {
  const [sub, ...files] = args;
  if (sub !== 'check' || files.length === 0) {
    if (sub !== undefined && sub !== 'check') io.err(`unknown calendar command ${sub}\n`);
    io.err(USAGE);
    return 2;
  }
  let code = 0;
  for (const file of files) {
    try {
      const y = readCalendarFile(file);
      const s = summariseYear(y, new WorkingCalendar([y]));
      io.out(`${file}: ${s.year}, ${s.holidays} days off, ${s.workdays} adjusted working days, ${s.workingDays} working days\n`);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      // The message names the file, the holiday, the field and the value.
      io.err(`${err.message}\n`);
      code = 1;
    }
  }
  return code;
}
