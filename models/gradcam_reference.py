"""PyTorch Grad-CAM reference for test/gradcam.test.ts (src/model/gradcam.ts).

Builds the project's network (models/cnn.py MaskGuidedResNet) with random weights (fixed seed, small
width), exports it to ONNX with the `activation` output exactly like the shipped model, writes the head
JSON, and computes Grad-CAM the standard way: forward/backward hooks on the last residual stage, weights
alpha_k = spatial mean of d score / d activation_k, cam = ReLU(sum_k alpha_k activation_k), divided by its
max. Score = logits[class] (or logits[1] - logits[0] with --margin).

usage: /usr/bin/python3 models/gradcam_reference.py <input.f32 [4,400,500]> <out_dir> [--class 1] [--margin]
writes: out_dir/net.onnx, head.json, cam.f32 (h*w, normalised), cam_raw.f32, cam_up.f32 (400x500 bilinear), meta.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn import INPUT_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH, MaskGuidedResNet, export_onnx, head_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('input')
    ap.add_argument('out')
    ap.add_argument('--class', dest='cls', type=int, default=1)
    ap.add_argument('--margin', action='store_true')
    ap.add_argument('--seed', type=int, default=7)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    torch.manual_seed(args.seed)
    model = MaskGuidedResNet(width=8).eval()
    # Random BN statistics so the network is not just a chain of identities.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    x = torch.from_numpy(np.fromfile(args.input, dtype='<f4').reshape(1, INPUT_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH).copy())

    store: dict[str, torch.Tensor] = {}

    def fwd_hook(_module, _inp, out):
        store['act'] = out
        out.register_hook(lambda g: store.__setitem__('grad', g))

    handle = model.stages[-1].register_forward_hook(fwd_hook)
    features16, logits, activation = model(x)
    handle.remove()
    score = logits[0, 1] - logits[0, 0] if args.margin else logits[0, args.cls]
    model.zero_grad()
    score.backward()
    act = store['act'][0].detach()
    grad = store['grad'][0]
    assert torch.equal(act, activation[0].detach()), 'hooked layer is not the exported activation'
    alpha = grad.mean(dim=(1, 2))
    cam_raw = torch.relu((alpha[:, None, None] * act).sum(0))
    mx = float(cam_raw.max())
    cam = cam_raw / mx if mx > 0 else cam_raw

    export_onnx(model, os.path.join(args.out, 'net.onnx'))
    with open(os.path.join(args.out, 'head.json'), 'w') as f:
        json.dump(head_json(model), f)
    cam.numpy().astype('<f4').tofile(os.path.join(args.out, 'cam.f32'))
    cam_raw.numpy().astype('<f4').tofile(os.path.join(args.out, 'cam_raw.f32'))
    cam_up = torch.nn.functional.interpolate(cam[None, None], size=(INPUT_HEIGHT, INPUT_WIDTH), mode='bilinear', align_corners=False)
    cam_up[0, 0].numpy().astype('<f4').tofile(os.path.join(args.out, 'cam_up.f32'))
    pooled = act.mean(dim=(1, 2))
    z = model.fc16(pooled)
    with open(os.path.join(args.out, 'meta.json'), 'w') as f:
        json.dump({'C': int(act.shape[0]), 'h': int(act.shape[1]), 'w': int(act.shape[2]),
                   'logits': logits[0].tolist(), 'activeFeatures': int((z > 0).sum()),
                   'camMax': mx, 'score': 'margin' if args.margin else f'logit{args.cls}'}, f)


if __name__ == '__main__':
    main()
