// Preloaded (node -r) into a Jazzer.js process when its prebuilt addon needs the compatibility
// shim (compat.ts): loads the shim with its symbols global, and has node load the patched copy of
// the addon wherever Jazzer.js asks for the packaged one. node_modules is left as npm installed it.

import os from 'node:os';
import path from 'node:path';

const dir = process.env.HUB_JAZZER_COMPAT;
if (dir) {
  const dlopen = process.dlopen.bind(process);
  dlopen({ exports: {} }, path.join(dir, 'compat.node'), os.constants.dlopen.RTLD_NOW | os.constants.dlopen.RTLD_GLOBAL);
  const packaged = path.join('@jazzer.js', 'fuzzer', 'prebuilds', `fuzzer-${process.platform}-${process.arch}.node`);
  const patched = path.join(dir, 'fuzzer.node');
  process.dlopen = (module: object, filename: string, flags?: number) => {
    const file = filename.endsWith(packaged) ? patched : filename;
    return flags === undefined ? dlopen(module, file) : dlopen(module, file, flags);
  };
}
