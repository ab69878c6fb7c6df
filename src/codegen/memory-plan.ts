// The memory plan: temporaries share slots when their lifetimes (in kernel order) do not overlap.
// Sizes stay symbolic; a slot's size is the largest of its occupants, evaluated per call.
import type { DType, Dim } from "../tensor/index.js";
import type { BufferInfo } from "./schedule.js";
import type { Kernel } from "./loop-ir.js";

export interface MemoryPlan {
  /** Slots by dtype: each lists the sizes of the buffers that occupy it (max taken at run time). */
  readonly slots: readonly { readonly dtype: DType; readonly sizes: readonly Dim[] }[];
  /** Slot of each temp buffer (by buffer id); other buffers are not planned. */
  readonly slotOf: Readonly<Record<number, number>>;
}

export function planMemory(buffers: readonly BufferInfo[], kernels: readonly Kernel[]): MemoryPlan {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  kernels.forEach((k, i) => {
    for (const b of k.buffers) {
      if (!first.has(b.buf)) first.set(b.buf, i);
      last.set(b.buf, i);
    }
  });
  const slots: { dtype: DType; sizes: Dim[]; freeAfter: number }[] = [];
  const slotOf: Record<number, number> = {};
  const temps = buffers.filter((b) => b.kind === "temp" && first.has(b.id)).sort((a, b) => first.get(a.id)! - first.get(b.id)!);
  for (const b of temps) {
    const start = first.get(b.id)!;
    // A slot is free once its last occupant's last use is strictly before this buffer's first write.
    let slot = slots.findIndex((s) => s.dtype === b.dtype && s.freeAfter < start);
    if (slot < 0) {
      slot = slots.length;
      slots.push({ dtype: b.dtype, sizes: [], freeAfter: -1 });
    }
    slots[slot]!.sizes.push(b.size);
    slots[slot]!.freeAfter = last.get(b.id)!;
    slotOf[b.id] = slot;
  }
  return { slots: slots.map(({ dtype, sizes }) => ({ dtype, sizes })), slotOf };
}
