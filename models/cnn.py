"""The image network: a small ResNet on the 4 channels [CT, HOG, LBP, fat mask] with mask-guided
attention (the fat mask, resized, is ADDED to the feature maps after residual stages 1 and 2, as in
the paper), a linear layer to 16 features, and a 2-class head.

Why small: no ImageNet weights can be downloaded and the train split has 185 images, so a
ResNet-101 from scratch would only memorise; 2 shared CPU cores also cap training at ~25 min.
The stem (2x2 average, stride-2 conv, max-pool) brings 400x500 down to 50x63 before any residual block;
stages 2 and 3 halve it again, so the Grad-CAM layer (stage 4) is 13x16.

Head (see models/HEAD.md, used by src/model/gradcam.ts):
    activation = stage4 output            [N, C, h, w]     (Grad-CAM layer)
    pooled     = mean over h, w           [N, C]
    features16 = ReLU(Linear(C, 16))      [N, 16]
    logits     = Linear(16, 2)            [N, 2]
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

INPUT_CHANNELS = 4
INPUT_HEIGHT = 400
INPUT_WIDTH = 500
FAT_CHANNEL = 3


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.down is None else self.down(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + idt)


class MaskGuidedResNet(nn.Module):
    """blocks_per_stage=(1,1,1,1) is ResNet-10-style, (2,2,2,2) ResNet-18-style."""

    def __init__(self, width: int = 16, blocks_per_stage: tuple[int, ...] = (1, 1, 1, 1), dropout: float = 0.3):
        super().__init__()
        # Stem /8: 2x2 average (400x500 -> 200x250), stride-2 5x5 conv (-> 100x125), max-pool (-> 50x63).
        # The averaging keeps CPU training within budget (4x fewer stem MACs than a full-resolution conv).
        self.input_pool = nn.AvgPool2d(2)
        self.stem = nn.Sequential(
            nn.Conv2d(INPUT_CHANNELS, width, 5, 2, 2, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1))
        stages = []
        cin = width
        for i, n in enumerate(blocks_per_stage):
            cout = width * (2 ** i)
            # strides 1,2,2,1: the Grad-CAM layer keeps a 13x16 grid instead of 7x8
            blocks = [BasicBlock(cin, cout, 2 if i in (1, 2) else 1)]
            blocks += [BasicBlock(cout, cout, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.channels = cin
        self.dropout = nn.Dropout(dropout)
        self.fc16 = nn.Linear(cin, 16)
        self.fc_out = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor):
        return self.forward_pooled(self.input_pool(x))

    def forward_pooled(self, x: torch.Tensor):
        """Same network from the 2x2-averaged input (200x250): training pre-pools the tensors once,
        which gives identical results and saves most of the memory traffic on 400x500 inputs."""
        mask = x[:, FAT_CHANNEL:FAT_CHANNEL + 1]  # -0.5 non-fat / +0.5 fat (averaged at the mask edge)
        h = self.stem(x)
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if i < 2:  # mask-guided attention after residual stages 1 and 2
                h = h + F.interpolate(mask, size=(int(h.shape[2]), int(h.shape[3])), mode='bilinear',
                                      align_corners=False)
        activation = h
        pooled = activation.mean(dim=(2, 3))
        features16 = F.relu(self.fc16(self.dropout(pooled)))
        logits = self.fc_out(features16)
        return features16, logits, activation


def reference_pattern() -> torch.Tensor:
    """Deterministic [1,4,400,500] input that TypeScript can rebuild (test/model-serving.test.ts) to
    check that onnxruntime-node reproduces torch's outputs of the exported CNN:
    x[c,i,j] = ((7c + 3i + j) mod 17) / 17 for c < 3, and +0.5 / -0.5 (fat / not) for c = 3 by (i + j) mod 5 == 0."""
    c = torch.arange(4).view(4, 1, 1)
    i = torch.arange(INPUT_HEIGHT).view(1, -1, 1)
    j = torch.arange(INPUT_WIDTH).view(1, 1, -1)
    x = ((7 * c + 3 * i + j) % 17).float() / 17
    x[3] = torch.where((i[0] + j[0]) % 5 == 0, 0.5, -0.5)
    return x.unsqueeze(0)


def export_onnx(model: MaskGuidedResNet, path: str) -> None:
    """ONNX with input `channels` [N,4,400,500] and outputs features16, logits, activation."""
    model.eval()
    dummy = torch.zeros(1, INPUT_CHANNELS, INPUT_HEIGHT, INPUT_WIDTH)
    # The input size is fixed (400x500), so the traced interpolate sizes being constants is intended.
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', message='The shape inference of prim::Constant')
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=['channels'],
                      output_names=['features16', 'logits', 'activation'],
                      dynamic_axes={'channels': {0: 'N'}, 'features16': {0: 'N'}, 'logits': {0: 'N'},
                                    'activation': {0: 'N'}},
                      do_constant_folding=True)


def head_json(model: MaskGuidedResNet) -> dict:
    """Head weights for Grad-CAM in TypeScript (d logit / d activation is spatially constant here)."""
    return {
        'description': 'pooled = mean_hw(activation); features16 = relu(W16 @ pooled + b16); logits = Wout @ features16 + bout',
        'activationChannels': model.channels,
        'W16': model.fc16.weight.detach().cpu().numpy().tolist(),  # [16][C]
        'b16': model.fc16.bias.detach().cpu().numpy().tolist(),
        'Wout': model.fc_out.weight.detach().cpu().numpy().tolist(),  # [2][16]
        'bout': model.fc_out.bias.detach().cpu().numpy().tolist(),
        'positiveClassIndex': 1,
    }
