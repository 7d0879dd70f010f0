/**
 * `hwr export`: a model folder (or shipped model) as ONNX or TFLite, float32, float16 weights or int8, with its
 * sidecar JSON (`<out>.json`: classes, preprocessing, calibration; see src/export/sidecar.ts), written atomically,
 * then checked by a runtime that is not this project's: the ONNX file by ONNX Runtime, the TFLite file by ArmNN's
 * TFLite parser where Debian's python3-pyarmnn is installed, against TF.js on a few images.
 */
import { basename, resolve } from 'node:path';
import { hwrError } from '../core/errors.ts';
import { EXPORT_FORMATS, calibrationImages, defaultCalibrationSource, exportModel, type ExportFormat, type ExportResult } from '../export/export.ts';
import { parseQuantizeMode, type QuantizeMode } from '../export/quantize.ts';
import { writeFileAtomic } from '../node/files.ts';
import { loadModel, readMetadata } from '../node/modelFiles.ts';
import { HWR_VERSION, modelWeightsSha256 } from '../node/onnxCache.ts';
import { resolveModelDir } from '../node/recognizer.ts';
import { setupBackend } from '../backend/backend.ts';
import { verifyExport, type ExportCheck } from '../export/verify.ts';

/** Flags of `hwr export`. */
export interface ExportFlags {
  model: string;
  format: string;
  quantize?: string;
  calibration: number;
  calibrationData?: string;
  out?: string;
}

/** Parses `--format`. @throws HwrError `BAD_ARGUMENT` naming the choices */
export function parseExportFormat(value: string): ExportFormat {
  if ((EXPORT_FORMATS as readonly string[]).includes(value)) return value as ExportFormat;
  throw hwrError('BAD_ARGUMENT', `--format: expected ${EXPORT_FORMATS.join(' or ')}, got "${value}"`);
}

/** Default output file: `<model>.<format>`, or `<model>-<mode>.<format>` when quantized, in the current folder. */
export function defaultExportFile(name: string, format: ExportFormat, quantize: QuantizeMode): string {
  return `${name}${quantize === 'float32' ? '' : `-${quantize}`}.${format}`;
}

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;

/** One line on what the check found. */
function describeCheck(check: ExportCheck): string {
  if (check.skipped) return `not checked: ${check.skipped}`;
  const agreement = `same top-1 as TF.js for ${check.sameTop1}/${check.count} images`;
  return `checked with ${check.runtime}${check.note ? ` on ${check.note}` : ''} on ${check.count} images: ${agreement}, max |probability difference| ${check.maxAbsDiff.toExponential(1)}`;
}

/** `hwr export`: writes the model file and its sidecar, and prints what was written and how it was checked. */
export async function exportCommand(flags: ExportFlags): Promise<void> {
  const format = parseExportFormat(flags.format);
  const quantize = parseQuantizeMode(flags.quantize);
  if (flags.calibrationData !== undefined && quantize !== 'int8') throw hwrError('BAD_ARGUMENT', '--calibration-data: only with --quantize int8');
  const dir = resolveModelDir(flags.model);
  await setupBackend();
  const [model, metadata, checksum] = await Promise.all([loadModel(dir), readMetadata(dir), modelWeightsSha256(dir)]);
  const out = resolve(flags.out ?? defaultExportFile(metadata.name, format, quantize));
  const command = ['hwr export', `--model ${flags.model}`, `--format ${format}`, ...(quantize === 'float32' ? [] : [`--quantize ${quantize}`]),
    ...(quantize === 'int8' ? [`--calibration ${flags.calibration}`, ...(flags.calibrationData ? [`--calibration-data ${flags.calibrationData}`] : [])] : []),
    ...(flags.out ? [`--out ${flags.out}`] : [])].join(' ');
  const result: ExportResult = await exportModel(model, metadata, {
    format,
    quantize,
    calibration: flags.calibration,
    ...(flags.calibrationData !== undefined ? { calibrationData: flags.calibrationData } : {}),
    modelFile: basename(out),
    command,
    version: HWR_VERSION,
    sourceWeightsSha256: checksum,
  });
  await writeFileAtomic(out, result.bytes);
  await writeFileAtomic(`${out}.json`, `${JSON.stringify(result.sidecar, null, 2)}\n`);
  const lines = [`wrote ${out} (${megabytes(result.bytes.length)}, ${format}, ${quantize}, ${result.graph.ops.length} ops) and ${basename(out)}.json`];
  if (result.calibration) lines.push(`calibrated on ${result.calibration.source}`);
  const source = quantize === 'int8' ? (flags.calibrationData ?? defaultCalibrationSource(metadata)) : safeDefaultSource(metadata);
  if (source !== null) {
    const sample = await calibrationImages(metadata, source, 64);
    lines.push(describeCheck(await verifyExport(format, result.bytes, out, model, sample.images, sample.count, { graph: result.graph, quantize })));
  } else {
    lines.push('not checked: no sample images for this model (pass --calibration-data)');
  }
  model.dispose();
  process.stdout.write(`${lines.join('\n')}\n`);
}

function safeDefaultSource(metadata: Parameters<typeof defaultCalibrationSource>[0]): string | null {
  try {
    return defaultCalibrationSource(metadata);
  } catch {
    return null;
  }
}
