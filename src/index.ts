// Kiln's public entry point.
export * from "./util/index.js";
export * from "./tensor/index.js";
export * from "./ops/index.js";
export * from "./graph/index.js";
