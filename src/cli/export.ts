/**
 * `hwr export`: a model folder (or shipped model) as ONNX or TFLite, float32, float16 or int8, with its sidecar JSON.
 */

/** Flags of `hwr export`. */
export interface ExportFlags {
  model: string;
  format: string;
  quantize?: string;
  calibration: number;
  calibrationData?: string;
  out?: string;
}

/** `hwr export` (being built: see issue 10). */
export async function exportCommand(flags: ExportFlags): Promise<void> {
  throw new Error(`hwr export --format ${flags.format}: not implemented yet`);
}
