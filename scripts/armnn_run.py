#!/usr/bin/python3
"""Runs a TFLite model through ArmNN's TFLite parser (Debian's python3-pyarmnn, ArmNN 20.08 / libarmnn22), an
independent reader used to verify hwr's TFLite writer (src/export/tflite.ts).

Usage: /usr/bin/python3 scripts/armnn_run.py MODEL.tflite INPUT.bin COUNT [OUTPUT.bin] [--backend CpuRef,CpuAcc]

INPUT.bin holds COUNT float32 little-endian images in the model's input layout (NHWC, batch 1 each). The outputs
(float32 little-endian, COUNT x the output's size) go to OUTPUT.bin, or to stdout when it is absent or "-".
A line with the backends used, the parse/optimize time and the run time (s) goes to stderr.

Exit status: 0; 2 when the model cannot be parsed or optimized (ONE line on stderr naming the file and ArmNN's
reason, also when ArmNN aborts on a failed assertion, which it does for some inputs it does not support: the work
runs in a child process watched by this one); 1 for bad arguments or an input file of the wrong size.
"""
import os
import subprocess
import sys
import time

CHILD = 'ARMNN_RUN_CHILD'

# Hints for ArmNN 20.08 messages whose cause is not plain from the message (see notes/EXPORT.md).
HINTS = {
    'has 0 bytes. For tensor': 'a constant input computed by an operator, e.g. float16 weights behind DEQUANTIZE '
                               '(TFLite\'s float16 layout), which ArmNN 20.08 does not take',
    'GetBiasTypeFromWeightsType': 'per-channel int8 weights where ArmNN 20.08 takes per-tensor ones '
                                  '(e.g. FULLY_CONNECTED)',
}


def hint(message):
    found = [text for key, text in HINTS.items() if key in message]
    return f' ({found[0]})' if found else ''


def supervise(argv):
    """Runs this script as a child; turns a crash (a signal) into one line naming the model, and exit status 2."""
    child = subprocess.run([sys.executable, __file__, *argv], env={**os.environ, CHILD: '1'}, stderr=subprocess.PIPE)
    text = child.stderr.decode('utf-8', 'replace').strip()
    if child.returncode < 0:
        last = text.splitlines()[-1] if text else 'no message'
        model = argv[0] if argv else '?'
        print(f'{model}: ArmNN aborted (signal {-child.returncode}): {last}{hint(last)}', file=sys.stderr)
        sys.exit(2)
    if text:
        print(text, file=sys.stderr)
    sys.exit(child.returncode)

if os.environ.get(CHILD) != '1':
    supervise(sys.argv[1:])

# pyarmnn prints a line per parser it was built without (Caffe, ONNX, TF) on import: keep stderr to one line.
_stderr = os.dup(2)
os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
try:
    import numpy as np
    import pyarmnn as ann
finally:
    os.dup2(_stderr, 2)
    os.close(_stderr)


def fail(code, message):
    print(message.replace('\n', ' ').strip(), file=sys.stderr)
    sys.exit(code)


def main(argv):
    args = [a for a in argv if not a.startswith('--backend')]
    backends = ['CpuAcc', 'CpuRef']
    for a in argv:
        if a.startswith('--backend='):
            backends = a.split('=', 1)[1].split(',')
    if len(args) not in (3, 4):
        fail(1, 'usage: armnn_run.py MODEL.tflite INPUT.bin COUNT [OUTPUT.bin] [--backend=CpuRef,CpuAcc]')
    model_path, input_path, count = args[0], args[1], int(args[2])
    output_path = args[3] if len(args) == 4 else '-'

    started = time.perf_counter()
    parser = ann.ITfLiteParser()
    try:
        network = parser.CreateNetworkFromBinaryFile(model_path)
    except Exception as error:  # pyarmnn raises RuntimeError with ArmNN's ParseException text
        fail(2, f'{model_path}: ArmNN TFLite parser: {error}{hint(str(error))}')
    runtime = ann.IRuntime(ann.CreationOptions())
    available = {str(b) for b in runtime.GetDeviceSpec().GetSupportedBackends()}
    preferred = [ann.BackendId(b) for b in backends if b in available]
    if not preferred:
        fail(2, f'{model_path}: none of the ArmNN backends {backends} is available (have {sorted(available)})')
    try:
        optimized, messages = ann.Optimize(network, preferred, runtime.GetDeviceSpec(), ann.OptimizerOptions())
        net_id, _ = runtime.LoadNetwork(optimized)
    except Exception as error:
        fail(2, f'{model_path}: ArmNN could not optimize or load the network: {error}{hint(str(error))}')

    input_name = parser.GetSubgraphInputTensorNames(0)[0]
    output_name = parser.GetSubgraphOutputTensorNames(0)[0]
    input_binding = parser.GetNetworkInputBindingInfo(0, input_name)
    output_binding = parser.GetNetworkOutputBindingInfo(0, output_name)
    input_size = input_binding[1].GetNumElements()
    output_size = output_binding[1].GetNumElements()
    images = np.fromfile(input_path, dtype='<f4')
    if images.size != count * input_size:
        fail(1, f'{input_path}: {images.size} float32 values, expected {count} x {input_size} for {model_path}')
    images = images.reshape(count, input_size)
    prepared = time.perf_counter()

    outputs = np.empty((count, output_size), dtype='<f4')
    output_tensors = ann.make_output_tensors([output_binding])
    for i in range(count):
        input_tensors = ann.make_input_tensors([input_binding], [images[i]])
        runtime.EnqueueWorkload(net_id, input_tensors, output_tensors)
        outputs[i] = ann.workload_tensors_to_ndarray(output_tensors)[0].reshape(-1)
    finished = time.perf_counter()

    if output_path == '-':
        sys.stdout.buffer.write(outputs.tobytes())
    else:
        outputs.tofile(output_path)
    used = ','.join(str(b) for b in preferred)
    print(f'armnn {ann.ARMNN_VERSION} backends {used}: {count} images, load {prepared - started:.3f} s, run {finished - prepared:.3f} s', file=sys.stderr)


if __name__ == '__main__':
    main(sys.argv[1:])
