// Where in a corrupt object libbpf crashed, said as precisely as the object
// itself shows. libbpf 1.1.2 trusts the .BTF.ext header's subsection
// offsets and lengths (btf_ext_setup_info checks the record size, not that
// the records fit), so a length past the section's end makes it read out of
// bounds: that case is recognised from the header; any other crash is
// reported with the phase and libbpf's last message before it.
import { EHDR_SIZE, SHDR_SIZE } from '../../bpf/elf.js';
import { PHASE_TEXT, type LibbpfPhase } from './libbpf-call.js';

/** The bytes of the named section of an ELF64 little-endian object, if it has one whose headers are readable. */
function sectionBytes(elf: Uint8Array, name: string): Uint8Array | undefined {
  if (elf.length < EHDR_SIZE) return undefined;
  const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const shoff = Number(v.getBigUint64(0x28, true));
  const shnum = v.getUint16(0x3c, true);
  const shstrndx = v.getUint16(0x3e, true);
  const header = (i: number) => (shoff + (i + 1) * SHDR_SIZE <= elf.length ? shoff + i * SHDR_SIZE : undefined);
  const strtab = header(shstrndx);
  if (strtab === undefined) return undefined;
  const names = Number(v.getBigUint64(strtab + 0x18, true));
  const want = Buffer.from(`${name}\0`);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    if (h === undefined) return undefined;
    const at = names + v.getUint32(h, true);
    if (!Buffer.from(elf.subarray(at, at + want.length)).equals(want)) continue;
    const off = Number(v.getBigUint64(h + 0x18, true));
    const size = Number(v.getBigUint64(h + 0x20, true));
    return off + size <= elf.length ? elf.subarray(off, off + size) : undefined;
  }
  return undefined;
}

/** btf_ext_header (include/uapi/linux/btf.h, libbpf btf.h): subsections after hdr_len. */
const BTF_EXT_SUBSECTIONS: ReadonlyArray<readonly [string, number]> = [['func_info', 8], ['line_info', 16], ['core_relo', 24]];

/** The first .BTF.ext subsection whose records run past the section, described. */
function btfExtOverrun(elf: Uint8Array): string | undefined {
  const ext = sectionBytes(elf, '.BTF.ext');
  if (!ext || ext.length < 8) return undefined;
  const v = new DataView(ext.buffer, ext.byteOffset, ext.byteLength);
  const hdrLen = v.getUint32(4, true);
  for (const [name, at] of BTF_EXT_SUBSECTIONS) {
    if (at + 8 > Math.min(hdrLen, ext.length)) break;
    const off = v.getUint32(at, true);
    const len = v.getUint32(at + 4, true);
    if (len !== 0 && hdrLen + off + len > ext.length) {
      return `its ${name} (offset ${off}, ${len} bytes) runs past the section's ${ext.length} bytes`;
    }
  }
  return undefined;
}

/** Where libbpf was when it crashed: "reading the object's .BTF.ext section: ..." or the phase and its last message. */
export function crashWhere(phase: LibbpfPhase, elf: Uint8Array, lastMessage: string | undefined): string {
  const ext = phase === 'open' ? btfExtOverrun(elf) : undefined;
  if (ext) return `reading the object's .BTF.ext section: ${ext}`;
  return `while ${PHASE_TEXT[phase]}${lastMessage ? `; libbpf's last message: '${lastMessage}'` : ''}`;
}
