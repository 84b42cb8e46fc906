// Marks version requirements of an ELF64 little-endian shared object as weak (VER_FLG_WEAK in its
// .gnu.version_r entries): the dynamic loader then loads the object on a system whose libraries
// lack those versions, and resolves the symbols of those versions from whatever object defines
// them. Only the flag is changed; the bytes stay where they are.

const SHT_GNU_VERNEED = 0x6ffffffe;
const VER_FLG_WEAK = 0x2;

/** The version names of `names` that the object requires, now marked weak. */
export function weakenVersionNeeds(elf: Buffer, names: readonly string[]): string[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error('not an ELF64 little-endian object');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { type: elf.readUInt32LE(at + 4), offset: Number(elf.readBigUInt64LE(at + 0x18)), link: elf.readUInt32LE(at + 0x28) };
  };
  const weakened: string[] = [];
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (s.type !== SHT_GNU_VERNEED) continue;
    const strings = section(s.link).offset;
    const name = (at: number) => elf.toString('latin1', strings + at, elf.indexOf(0, strings + at));
    // Elf64_Verneed { vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32 }
    // Elf64_Vernaux { vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32 }
    for (let need = s.offset; ;) {
      const count = elf.readUInt16LE(need + 2);
      let aux = need + elf.readUInt32LE(need + 8);
      for (let k = 0; k < count; k++) {
        const version = name(elf.readUInt32LE(aux + 8));
        if (names.includes(version)) {
          elf.writeUInt16LE(elf.readUInt16LE(aux + 4) | VER_FLG_WEAK, aux + 4);
          weakened.push(version);
        }
        const next = elf.readUInt32LE(aux + 12);
        if (!next) break;
        aux += next;
      }
      const next = elf.readUInt32LE(need + 12);
      if (!next) break;
      need += next;
    }
  }
  return weakened;
}
