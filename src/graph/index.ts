// Public face of src/graph.
export { Graph, graphFromJSON, type Node, type SymbolInfo, type InputKind, type NodeValues } from "./graph.js";
export { INPUT_KINDS, isInputKind } from "./input-kind.js";
export { printGraph, printNode } from "./printer.js";
export { GRAPH_JSON_FORMAT, graphToJSON, decodeGraphJSON, type GraphJSON, type NodeJSON, type GraphParts } from "./json.js";
export { verify, verifyGraph } from "./verify.js";
export { attrText, numberText } from "./attr-codec.js";
export { GraphBuilder } from "./builder.js";
export { SymbolicTensor, recordingInterpreter, typeOfTensor, type RecordingHooks } from "./symbolic-tensor.js";
export { interpret, bindSymbols, concreteAttrs } from "./interpreter.js";
