// Scheduling: decides which nodes are realised into buffers — graph inputs and outputs, matmul
// results, matmul operands that are not strided views of a buffer, multi-element constants,
// costly nodes needed by kernels of two different roots, and reductions a consumer would
// recompute — and fuses everything else into its consumers. One kernel per realised node, in
// graph order; matmul kernels are template calls over strided operand views (no copies).
import { type DType, type Dim, type Shape, dimAdd, dimEq, dimMul } from "../tensor/index.js";
import { normalizeAxis, sliceBounds } from "../ops/index.js";
import type { Graph, Node } from "../graph/index.js";
import { ArgumentError } from "../util/index.js";
import { KernelBuilder, loopDomain } from "./kernel-builder.js";
import { finishKernel } from "./finish-kernel.js";
import { type IExpr, type Kernel, type MatmulOperand, ipoly } from "./loop-ir.js";

export type BufferKind = "input" | "output" | "temp" | "const";

export interface BufferInfo {
  readonly id: number;
  readonly kind: BufferKind;
  readonly dtype: DType;
  /** Element count, possibly symbolic. */
  readonly size: Dim;
  /** The graph node it holds (its index in graph.nodes). */
  readonly node: number;
  /** For inputs: the position among graph inputs. */
  readonly inputIndex?: number;
  /** For constants: the values. */
  readonly values?: readonly number[];
}

export interface Schedule {
  readonly buffers: readonly BufferInfo[];
  readonly kernels: readonly Kernel[];
  /** Buffer of each graph output, in order. */
  readonly outputs: readonly number[];
}

/** Ops whose recomputation is free: never worth a buffer just because they have several users. */
const CHEAP = new Set(["reshape", "permute", "expand", "slice", "full", "arange", "constant"]);

interface View {
  readonly node: Node;
  readonly offset: Dim;
  readonly strides: readonly Dim[];
}

function contiguousDims(shape: Shape): Dim[] {
  const out: Dim[] = new Array(shape.length);
  let s: Dim = 1;
  for (let a = shape.length - 1; a >= 0; a--) {
    out[a] = s;
    s = dimMul(s, shape[a]!);
  }
  return out;
}

/** `n` as a strided view of a realised node, when only permute/expand/slice/reshape-of-contiguous lie between. */
function viewOf(n: Node, realised: ReadonlySet<Node>): View | undefined {
  if (realised.has(n)) return { node: n, offset: 0, strides: contiguousDims(n.type.shape) };
  const x = n.inputs[0];
  if (!x) return undefined;
  const v = n.op === "reshape" || n.op === "permute" || n.op === "expand" || n.op === "slice" ? viewOf(x, realised) : undefined;
  if (!v) return undefined;
  const shape = n.type.shape;
  switch (n.op) {
    case "permute": {
      const perm = (n.attrs.perm as number[]).map((p) => normalizeAxis("permute", p, shape.length));
      return { ...v, strides: perm.map((p) => v.strides[p]!) };
    }
    case "expand": {
      const lead = shape.length - x.type.shape.length;
      return { ...v, strides: shape.map((d, a) => (a < lead || (x.type.shape[a - lead] === 1 && d !== 1) ? 0 : v.strides[a - lead]!)) };
    }
    case "slice": {
      const b = sliceBounds(x.type, n.attrs);
      return { ...v, offset: dimAdd(v.offset, dimMul(b.start, v.strides[b.axis]!)), strides: v.strides.map((s, a) => (a === b.axis ? dimMul(s, b.step) : s)) };
    }
    case "reshape": {
      const want = contiguousDims(x.type.shape);
      const contiguous = x.type.shape.every((d, a) => d === 1 || dimEq(v.strides[a]!, want[a]!));
      return contiguous ? { ...v, strides: contiguousDims(shape) } : undefined;
    }
    default:
      return undefined;
  }
}

/** A realised node's buffer read whole and contiguously through `n` (a reshape, say), if it is one. */
function wholeBuffer(n: Node, realised: ReadonlySet<Node>): Node | undefined {
  const v = viewOf(n, realised);
  if (!v || v.offset !== 0) return undefined;
  const want = contiguousDims(n.type.shape);
  return n.type.shape.every((d, a) => d === 1 || dimEq(v.strides[a]!, want[a]!)) ? v.node : undefined;
}

/**
 * kv_store writes into its cache operand's buffer, so that operand must be a buffer the caller
 * owns (a graph input, or an earlier store into one), and what else reads it must be a kernel
 * that runs at its own place in graph order (attention, another store), never one fused later.
 */
function checkInPlaceWrites(graph: Graph): void {
  const users = graph.users();
  for (const n of graph.nodes) {
    if (n.op !== "kv_store") continue;
    const cache = n.inputs[0]!;
    if (cache.op !== "input" && cache.op !== "kv_store") {
      throw new ArgumentError("kv_store", `writes in place, so its cache must be a graph input (an argument or a buffer), not the result of ${cache.op}`);
    }
    for (const u of users.get(cache)!) {
      if (u !== n && !TEMPLATE_OPS.has(u.op)) throw new ArgumentError("kv_store", `its cache '${cache.op === "input" ? String(cache.attrs.name) : "kv_store"}' is also read by ${u.op}; read the cache through kv_store's result`);
    }
  }
}

/** Ops computed by a kernel of their own over whole buffers: kv_store scatters into its cache operand's buffer. */
const TEMPLATE_OPS: ReadonlySet<string> = new Set(["kv_store", "paged_attention"]);

/**
 * Nodes realised into buffers before any kernel is built (see the header comment). `groupOf` maps the members of
 * a multi-output kernel to one of them: a node needed only by one group's kernel is computed inside it.
 */
function initialRealised(graph: Graph, groupOf: ReadonlyMap<Node, Node>): Set<Node> {
  const users = graph.users();
  const outputs = new Set(graph.outputs);
  const realised = new Set<Node>();
  for (const n of graph.nodes) {
    if (n.op === "input" || n.op === "matmul" || TEMPLATE_OPS.has(n.op) || outputs.has(n)) realised.add(n);
    else if (n.op === "constant" && (n.attrs.values as number[]).length > 1) realised.add(n);
  }
  // Matmul operands that are not views of a buffer get a buffer of their own; attention operands
  // must be whole contiguous buffers. (kv_store's values and slots fuse into its scatter kernel.)
  for (const n of graph.nodes) {
    if (n.op === "matmul") for (const x of n.inputs) if (!viewOf(x, realised)) realised.add(x);
    if (n.op === "paged_attention") for (const x of n.inputs) if (!wholeBuffer(x, realised)) realised.add(x);
  }
  // A node is fused into every kernel that needs it; it gets its own buffer only when kernels
  // of two different roots need it and it is not free to recompute. Users come later in the
  // node order, so one backward walk decides every node after its users.
  const roots = new Map<Node, ReadonlySet<Node>>();
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    const r = new Set<Node>();
    for (const u of users.get(n)!) for (const x of realised.has(u) ? [u] : roots.get(u)!) r.add(groupOf.get(x) ?? x);
    if (!realised.has(n) && r.size > 1 && !CHEAP.has(n.op) && n.type.shape.length > 0) realised.add(n);
    roots.set(n, r);
  }
  return realised;
}

const sameDomain = (a: readonly Dim[], b: readonly Dim[]) => a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));

/**
 * Multi-output kernels: runs of consecutive kernels (in graph order) over the same loop domain, none reading another's
 * result, become one kernel with a store per member (RoPE's cos and sin of one angle table, a layer's K and V cache
 * stores). Consecutive, so no other kernel runs between the members and the group may take their place in the order.
 */
function groupKernels(graph: Graph, realised: ReadonlySet<Node>): Node[][] {
  // The realised nodes a node reads, through the nodes fused into it.
  const reads = new Map<Node, ReadonlySet<Node>>();
  const readsOf = (n: Node): ReadonlySet<Node> => {
    let r = reads.get(n);
    if (!r) {
      const set = new Set<Node>();
      for (const x of n.inputs) for (const y of realised.has(x) ? [x] : readsOf(x)) set.add(y);
      reads.set(n, (r = set));
    }
    return r;
  };
  const groups: Node[][] = [];
  let group: Node[] = [];
  for (const n of graph.nodes) {
    if (!realised.has(n) || n.op === "input" || n.op === "constant") continue;
    const domain = loopDomain(n);
    const first = group[0] && loopDomain(group[0]);
    if (domain && first && sameDomain(domain, first) && !group.some((m) => readsOf(n).has(m))) {
      group.push(n);
      continue;
    }
    if (group.length) groups.push(group);
    group = [n];
  }
  if (group.length) groups.push(group);
  return groups;
}

/** The realised nodes and the kernels' groups; `extra` nodes are realised on top of what fusion decides. */
function realise(graph: Graph, extra: ReadonlySet<Node>): { realised: Set<Node>; groups: Node[][] } {
  let groupOf = new Map<Node, Node>();
  // Grouping can free a node (needed by two members only) and freeing can change the groups: settle in a few rounds.
  for (let round = 0; ; round++) {
    const realised = initialRealised(graph, groupOf);
    for (const n of extra) realised.add(n);
    const groups = groupKernels(graph, realised);
    const next = new Map(groups.filter((g) => g.length > 1).flatMap((g) => g.map((m) => [m, g[0]!] as const)));
    const settled = next.size === groupOf.size && [...next].every(([m, g]) => groupOf.get(m) === g);
    if (settled || round === 3) return { realised, groups };
    groupOf = next;
  }
}

export function schedule(graph: Graph): Schedule {
  checkInPlaceWrites(graph);
  // Reductions that a consumer would recompute across loops they do not depend on (a reduction
  // over a non-last axis feeding a pointwise op, say) get a kernel of their own; repeat until none.
  const extra = new Set<Node>();
  for (;;) {
    const { realised, groups } = realise(graph, extra);
    const { result, redundant } = buildKernels(graph, realised, groups);
    if (redundant.size === 0) return result;
    for (const n of redundant) extra.add(n);
  }
}

function buildKernels(graph: Graph, realised: ReadonlySet<Node>, groups: readonly Node[][]): { result: Schedule; redundant: Set<Node> } {
  const outputs = new Set(graph.outputs);
  const buffers: BufferInfo[] = [];
  const bufferOf = new Map<Node, number>();
  const index = new Map(graph.nodes.map((n, i) => [n, i]));
  let inputIndex = 0;
  for (const n of graph.nodes) {
    if (!realised.has(n)) continue;
    if (n.op === "kv_store") {
      // In place: the store's result is its cache operand's buffer (graph verify keeps this safe).
      bufferOf.set(n, bufferOf.get(n.inputs[0]!)!);
      continue;
    }
    const kind: BufferKind = n.op === "input" ? "input" : n.op === "constant" ? "const" : outputs.has(n) ? "output" : "temp";
    const id = buffers.length;
    buffers.push({
      id, kind, dtype: n.type.dtype, size: n.type.shape.reduce<Dim>((a, d) => dimMul(a, d), 1), node: index.get(n)!,
      ...(kind === "input" ? { inputIndex: inputIndex++ } : {}),
      ...(kind === "const" ? { values: n.attrs.values as number[] } : {}),
    });
    bufferOf.set(n, id);
  }

  const kernels: Kernel[] = [];
  const redundant = new Set<Node>();
  for (const group of groups) {
    const n = group[0]!;
    const out = bufferOf.get(n)!;
    const name = `k${kernels.length}_${[...new Set(group.map((m) => m.op))].join("_")}`;
    if (n.op === "matmul") {
      kernels.push(matmulKernel(name, n, out, (x) => operand(viewOf(x, realised)!, bufferOf)));
      continue;
    }
    if (n.op === "paged_attention") {
      kernels.push(attentionKernel(name, n, out, (x) => bufferOf.get(wholeBuffer(x, realised)!)!));
      continue;
    }
    const members = new Set(group);
    const builder = new KernelBuilder(
      (m) => (members.has(m) ? undefined : bufferOf.get(m)),
      (m) => bufferOf.get(m),
    );
    kernels.push(builder.build(name, group.map((m) => ({ node: m, out: bufferOf.get(m)! }))));
    for (const r of builder.redundant) redundant.add(r);
  }
  return { result: { buffers, kernels, outputs: graph.outputs.map((o) => bufferOf.get(o)!) }, redundant };
}

interface OperandView {
  readonly buf: number;
  readonly dtype: DType;
  readonly offset: Dim;
  readonly strides: readonly Dim[];
}

function operand(v: View, bufferOf: ReadonlyMap<Node, number>): OperandView {
  return { buf: bufferOf.get(v.node)!, dtype: v.node.type.dtype, offset: v.offset, strides: v.strides };
}

function matmulKernel(name: string, n: Node, out: number, viewFor: (x: Node) => OperandView): Kernel {
  const [a, b] = n.inputs as [Node, Node];
  const va = viewFor(a);
  const vb = viewFor(b);
  // 1-D operands are a row (a) or a column (b) with a zero stride on the missing dim.
  const aShape = a.type.shape.length === 1 ? [1, a.type.shape[0]!] : a.type.shape;
  const aStr = a.type.shape.length === 1 ? [0, va.strides[0]!] : va.strides;
  const bShape = b.type.shape.length === 1 ? [b.type.shape[0]!, 1] : b.type.shape;
  const bStr = b.type.shape.length === 1 ? [vb.strides[0]!, 0] : vb.strides;
  const m = aShape[aShape.length - 2]!;
  const k = aShape[aShape.length - 1]!;
  const nn = bShape[bShape.length - 1]!;
  const outBatch = n.type.shape.slice(0, n.type.shape.length - (a.type.shape.length > 1 ? 1 : 0) - (b.type.shape.length > 1 ? 1 : 0));
  const batchStrides = (shape: Shape, strides: readonly Dim[]): IExpr[] => {
    const batch = shape.slice(0, -2);
    const lead = outBatch.length - batch.length;
    return outBatch.map((d, i) => (i < lead || (batch[i - lead] === 1 && d !== 1) ? ipoly(0) : ipoly(strides[i - lead]!)));
  };
  const opnd = (v: OperandView, shape: Shape, strides: readonly Dim[]): MatmulOperand => ({
    buf: v.buf, dtype: v.dtype, offset: ipoly(v.offset), batchStrides: batchStrides(shape, strides),
    rowStride: ipoly(strides[strides.length - 2]!), colStride: ipoly(strides[strides.length - 1]!),
  });
  return finishKernel(
    name,
    [{ k: "matmul", out, outDType: n.type.dtype, batch: outBatch.map(ipoly), m: ipoly(m), n: ipoly(nn), kdim: ipoly(k), a: opnd(va, aShape, aStr), b: opnd(vb, bShape, bStr) }],
    [n.id],
  );
}


function attentionKernel(name: string, n: Node, out: number, bufferFor: (x: Node) => number): Kernel {
  const [q, k, v, table, seqIds, positions] = n.inputs as Node[];
  const [tokens, heads, headDim] = q!.type.shape;
  const [, blockSize, kvHeads] = k!.type.shape;
  return finishKernel(
    name,
    [{
      k: "attention", out, q: bufferFor(q!), kcache: bufferFor(k!), vcache: bufferFor(v!), blockTable: bufferFor(table!),
      seqIds: bufferFor(seqIds!), positions: bufferFor(positions!), cacheDType: k!.type.dtype, tokens: ipoly(tokens!),
      heads: heads as number, kvHeads: kvHeads as number, headDim: headDim as number, blockSize: blockSize as number,
      maxBlocks: ipoly(table!.type.shape[1]!), scale: n.attrs.scale as number,
    }],
    [n.id],
  );
}
