// Public face of src/nn.
export { Module, type LoadOptions } from "./module.js";
export { Parameter } from "./parameter.js";
export { Linear, Embedding, RMSNorm, SiLU, Sequential, type InitOptions } from "./layers.js";
