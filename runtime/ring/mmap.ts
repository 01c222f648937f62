// The kernel memory behind the ring readers: mmaps a perf event's ring or a
// BPF ring buffer map and hands the readers views over it, plus the release
// that unmaps (and, for perf, closes the event fd) when the reader closes.
import { closeAll } from '../../lib/close-all.js';
import { PAGE_SIZE, PROT_READ, PROT_WRITE, closeFd, mmapFd, type Mapping } from '../sys/index.js';
import { PerfRing, perfDataArea } from './perf-ring.js';
import { RingBuffer } from './ring-buffer.js';
import { RingLayoutError } from './errors.js';

/** Maps `pages` (a power of two) data pages of an opened perf event fd. Takes ownership of fd once this returns. */
export function mapPerfRing(fd: number, cpu: number, pages: number, sampleType: number): PerfRing {
  if (pages < 1 || (pages & (pages - 1)) !== 0) throw new RingLayoutError(`perf ring: page count ${pages} is not a power of two`);
  const mapping = mmapFd(fd, (pages + 1) * PAGE_SIZE, PROT_READ | PROT_WRITE);
  try {
    const control = new BigUint64Array(mapping.buffer, 0, PAGE_SIZE / 8);
    const area = perfDataArea(control, PAGE_SIZE, pages);
    const data = Buffer.from(mapping.buffer, area.offset, area.size);
    return new PerfRing({ control, data }, { cpu, sampleType, fd, release: () => closeAll([() => mapping.unmap(), () => closeFd(fd)]) });
  } catch (e) {
    mapping.unmap();
    throw e;
  }
}

/** Maps a BPF ring buffer map of `size` bytes (its max_entries); does not own the map fd (the loader closes it). */
export function mapRingBuffer(mapFd: number, size: number): RingBuffer {
  if (size < PAGE_SIZE || (size & (size - 1)) !== 0) throw new RingLayoutError(`ring buffer: size ${size} is not a power-of-two multiple of the page size`);
  const maps: Mapping[] = [];
  const unmapAll = (): void => closeAll([...maps].reverse().map((m) => () => m.unmap()));
  try {
    const consumer = mmapFd(mapFd, PAGE_SIZE, PROT_READ | PROT_WRITE);
    maps.push(consumer);
    // The producer page, then the data area once: the kernel offers it twice
    // (ringbuf_map_mmap) and populates whatever is mapped, so the second copy
    // would cost its whole size in RSS (4 MiB); the reader copies the rare wrapped record.
    const producer = mmapFd(mapFd, PAGE_SIZE + size, PROT_READ, undefined, PAGE_SIZE);
    maps.push(producer);
    return new RingBuffer(
      {
        consumerPos: new BigUint64Array(consumer.buffer, 0, 1),
        producerPos: new BigUint64Array(producer.buffer, 0, 1),
        data: Buffer.from(producer.buffer, PAGE_SIZE, size),
        size,
      },
      { fd: mapFd, release: unmapAll },
    );
  } catch (e) {
    unmapAll();
    throw e;
  }
}
