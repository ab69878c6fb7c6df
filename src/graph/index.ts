// Public face of src/graph.
export { Graph, type Node, type SymbolInfo, type InputKind, type NodeValues } from "./graph.js";
export { GraphBuilder } from "./builder.js";
export { SymbolicTensor, recordingInterpreter, typeOfTensor, type RecordingHooks } from "./symbolic-tensor.js";
export { interpret, bindSymbols } from "./interpreter.js";
