// Makes the embedded store template of a test run (STORE_TEMPLATE in ./hub.ts): an empty PGlite
// store with this build's migrations, closed cleanly, which testDataDir copies into each test's data
// folder. Run by scripts/test.sh after the build, before mocha.
import fs from 'node:fs';
import { openDriver } from '../../services/store/store';
import { STORE_TEMPLATE } from './hub';

async function main(): Promise<void> {
  fs.rmSync(STORE_TEMPLATE, { recursive: true, force: true });
  // Made beside, then renamed: a template is whole or absent.
  const making = `${STORE_TEMPLATE}.making-${process.pid}`;
  fs.rmSync(making, { recursive: true, force: true });
  const driver = await openDriver('embedded', making);
  await driver.close();
  fs.renameSync(making, STORE_TEMPLATE);
}

main().catch((err) => {
  console.error(`the embedded store template could not be made: ${(err as Error).message}`);
  process.exit(1);
});
