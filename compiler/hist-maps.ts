// The maps hist triggers add to an object: one hash map per trigger, sized
// as the kernel sizes its tracing_map (1 << map_bits entries: size=
// rounded up to a power of two, 2048 by default), and one per-CPU drop
// counter per trigger.
import { MapType } from '../bpf/elf.js';
import type { MapSpec } from '../bpf/elf-writer.js';
import { HIST_DROPS_MAP, HIST_SEQ_MAP, histMapName, type HistPlan } from './hist-layout.js';

export function histMapsOf(plans: readonly HistPlan[]): MapSpec[] {
  if (plans.length === 0) return [];
  return [
    // a named trigger after the first of its name adds to that one's map
    ...plans.filter((h) => !h.owner).map((h): MapSpec => ({
      name: histMapName(h.index), type: h.sums === 'percpu' ? MapType.PERCPU_HASH : MapType.HASH, keySize: h.layout.keySize, valueSize: h.layout.valueSize, maxEntries: 1 << h.trigger.mapBits,
    })),
    { name: HIST_DROPS_MAP, type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: plans.length },
    { name: HIST_SEQ_MAP, type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: plans.length },
  ];
}
