#!/usr/bin/env bash
# `make demo`'s main job: fine-tune the PyTorch-exported CNN of this folder on its bundled data,
# with TensorBoard logs, checkpoints and metrics; export ONNX and safetensors; load the exported
# file again and run it; print where everything went.
# Usage: examples/finetune/run_demo.sh KILN OUT_DIR
set -euo pipefail
kiln=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
mkdir -p "$out"

echo "== preflight: what kiln will train"
"$kiln" info "$here/small_cnn.onnx" --train

echo "== fine-tuning small_cnn.onnx (pre-trained by make_example.py) on the shifted stripes data"
"$kiln" train "$here/small_cnn.onnx" --data "$here/stripes_train.npz" --val "$here/stripes_val.npz" \
  --loss cross_entropy --optimizer sgd --lr 0.02 --momentum 0.9 --epochs 3 --batch-size 32 --seed 1 \
  --logdir "$out/runs" --checkpoint-dir "$out/checkpoints" --metrics-out "$out/metrics.jsonl" \
  --export "$out/small_cnn_finetuned.onnx" --export-safetensors "$out/small_cnn_finetuned.safetensors"

echo "== exporting the last checkpoint again, and loading the exported model back"
last=$(ls "$out"/checkpoints/epoch-*.ckpt | sort -V | tail -1)
"$kiln" export "$last" -o "$out/from_checkpoint.onnx"
"$kiln" info "$out/small_cnn_finetuned.onnx"
"$kiln" run "$out/small_cnn_finetuned.onnx" --input "image=$here/stripes_val_images.npy" --output "$out/logits.npz"

echo "== written"
echo "  fine-tuned model (ONNX):        $out/small_cnn_finetuned.onnx"
echo "  weights for PyTorch:            $out/small_cnn_finetuned.safetensors"
echo "  exported from the checkpoint:   $out/from_checkpoint.onnx"
echo "  checkpoints:                    $out/checkpoints"
echo "  per-step metrics (JSON lines):  $out/metrics.jsonl"
echo "  logits of 8 validation images:  $out/logits.npz"
echo "  TensorBoard logs:               $out/runs   (tensorboard --logdir $out/runs)"
