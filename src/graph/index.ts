// Public face of src/graph.
export { Graph, type Node, type SymbolInfo, type InputKind, type NodeValues, type GraphJSON } from "./graph.js";
export { printGraph, printNode } from "./printer.js";
export { verifyGraph } from "./verify.js";
export { attrText } from "./attr-codec.js";
export { GraphBuilder } from "./builder.js";
export { SymbolicTensor, recordingInterpreter, typeOfTensor, type RecordingHooks } from "./symbolic-tensor.js";
export { interpret, bindSymbols, concreteAttrs } from "./interpreter.js";
