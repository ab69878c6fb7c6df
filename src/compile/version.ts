// Kiln's version, stamped into every bundle (kept equal to package.json's by a test).
export const KILN_VERSION = "0.1.0";
