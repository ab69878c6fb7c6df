// matmul: NumPy matmul semantics — batched, broadcasting batch dims, 1-D operands promoted then squeezed.
import { type Dim, Tensor, type TensorType, dimEq, promoteTypes, shapeToString } from "../tensor/index.js";
import { DTypeError, ShapeError } from "../util/index.js";
import type { OpDef } from "./op-def.js";
import { broadcastShapes } from "./shape-rules.js";
import { broadcastStrides } from "./ref-util.js";

function matmulType(a: TensorType, b: TensorType): TensorType {
  if (a.shape.length === 0 || b.shape.length === 0) throw new ShapeError("matmul", "operands of rank >= 1", [a.shape.length, b.shape.length]);
  const dtype = promoteTypes(a.dtype, b.dtype);
  if (dtype === "bool") throw new DTypeError("matmul", "numeric operands", `${a.dtype}, ${b.dtype}`);
  const as = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  const k1 = as[as.length - 1]!;
  const k2 = bs[bs.length - 2]!;
  if (!dimEq(k1, k2)) {
    throw new ShapeError("matmul", `inner dims to match: [..., M, ${String(k1)}] @ [..., ${String(k1)}, N]`, [shapeToString(a.shape), shapeToString(b.shape)]);
  }
  const batch = broadcastShapes("matmul", as.slice(0, -2), bs.slice(0, -2));
  const shape: Dim[] = [...batch];
  if (a.shape.length > 1) shape.push(as[as.length - 2]!);
  if (b.shape.length > 1) shape.push(bs[bs.length - 1]!);
  return { dtype, shape };
}

const matmul: OpDef = {
  name: "matmul",
  category: "matmul",
  arity: 2,
  attrs: {},
  infer: ([a, b]) => matmulType(a!, b!),
  ref([a, b], _attrs, out) {
    const ad = a!.rank === 1 ? [1, a!.dims[0]!] : a!.dims;
    const bd = b!.rank === 1 ? [b!.dims[0]!, 1] : b!.dims;
    const [M, K, N] = [ad[ad.length - 2]!, ad[ad.length - 1]!, bd[bd.length - 1]!];
    const batch = broadcastShapes("matmul", ad.slice(0, -2), bd.slice(0, -2)) as number[];
    const nb = batch.reduce((x, y) => x * y, 1);
    // Per-batch element offsets of each operand (0 along broadcast batch dims).
    const aStr = broadcastStrides(ad.slice(0, -2), batch).map((s) => s * M * K);
    const bStr = broadcastStrides(bd.slice(0, -2), batch).map((s) => s * K * N);
    const va = a!.values();
    const vb = b!.values();
    const res = new Float64Array(nb * M * N);
    const bi = new Array<number>(batch.length).fill(0);
    for (let t = 0; t < nb; t++) {
      let ao = 0;
      let bo = 0;
      for (let d = 0; d < batch.length; d++) {
        ao += bi[d]! * aStr[d]!;
        bo += bi[d]! * bStr[d]!;
      }
      const ro = t * M * N;
      for (let i = 0; i < M; i++) {
        for (let k = 0; k < K; k++) {
          const x = va[ao + i * K + k]!;
          for (let j = 0; j < N; j++) res[ro + i * N + j] += x * vb[bo + k * N + j]!;
        }
      }
      for (let d = batch.length - 1; d >= 0; d--) {
        if (++bi[d]! < batch[d]!) break;
        bi[d] = 0;
      }
    }
    return Tensor.fromValues(out.dtype, out.shape as number[], res);
  },
};

export const MATMUL_DEFS = { matmul } as const;
