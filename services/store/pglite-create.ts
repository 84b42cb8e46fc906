// Makes a new embedded store (PostgreSQL's initdb, by PGlite) in the folder given, then ends: run as
// a process of its own by PgliteDriver.open, so that what making it took (PGlite's WebAssembly memory
// grows to about 750 MB, and the allocator keeps its arenas) is not kept by the hub's process.
import { openPglite } from './pglite-open';

openPglite(process.argv[2])
  .then((db) => db.close())
  .then(() => process.exit(0), (err: Error) => {
    process.stderr.write(`${err?.message ?? String(err)}\n`);
    process.exit(1);
  });
