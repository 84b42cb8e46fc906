// Makes the store templates of a test run, before mocha (scripts/test.sh, after the build):
// - the embedded one (STORE_TEMPLATE in ./hub.ts): an empty PGlite store with this build's
//   migrations, closed cleanly, which testDataDir copies into each test's data folder;
// - the PostgreSQL one (pgTemplateName in ./servers.ts), which createTestDatabase copies.
import fs from 'node:fs';
import { openDriver } from '../../services/store/store';
import { STORE_TEMPLATE } from './hub';
import { makePgTemplate } from './servers';

async function main(): Promise<void> {
  fs.rmSync(STORE_TEMPLATE, { recursive: true, force: true });
  // Made beside, then renamed: a template is whole or absent.
  const making = `${STORE_TEMPLATE}.making-${process.pid}`;
  fs.rmSync(making, { recursive: true, force: true });
  const driver = await openDriver('embedded', making);
  await driver.close();
  fs.renameSync(making, STORE_TEMPLATE);
  await makePgTemplate();
}

main().catch((err) => {
  console.error(`the store templates could not be made: ${(err as Error).message}`);
  process.exit(1);
});
