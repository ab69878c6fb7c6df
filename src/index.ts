// Kiln's public entry point.
export * from "./util/index.js";
export * from "./tensor/index.js";
export * from "./ops/index.js";
export * from "./graph/index.js";
export * from "./trace/index.js";
export * from "./cache/index.js";
export * from "./compile/index.js";
export * from "./nn/index.js";
