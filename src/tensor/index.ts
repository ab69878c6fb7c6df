// Public face of src/tensor.
export * from "./dtype.js";
export * from "./half.js";
export * from "./sym.js";
export { type TensorType, typeToString } from "./tensor-type.js";
export * from "./tensor.js";
