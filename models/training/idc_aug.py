"""Training-time augmentation for `idc-tile-classifier` (train_idc.py), torch only.

- dihedral: each tile gets its own one of the 8 flips / 90-degree turns;
- HED stain jitter: colour deconvolution into haematoxylin, eosin and DAB optical densities
  with the Ruifrok & Johnston matrix that skimage.color.rgb2hed uses, each stain scaled and
  shifted per tile (Tellez et al. 2018), then back to RGB;
- brightness / contrast / saturation jitter per tile.
All on float RGB in [0, 1], [N, 3, H, W]; normalisation to the manifest's mean/std comes after.
"""
import torch

# Rows: the RGB optical density of one unit of haematoxylin, eosin, DAB (skimage rgb_from_hed).
RGB_FROM_HED = torch.tensor([[0.65, 0.70, 0.29],
                             [0.07, 0.99, 0.11],
                             [0.27, 0.57, 0.78]], dtype=torch.float32)
HED_FROM_RGB = torch.linalg.inv(RGB_FROM_HED)
EPS = 1e-6


def dihedral(x):
    """Each tile through its own random one of the 8 symmetries of the square."""
    n = x.shape[0]
    k = torch.randint(0, 8, (n,))
    out = torch.empty_like(x)
    for t in range(8):
        idx = (k == t).nonzero(as_tuple=True)[0]
        if len(idx) == 0:
            continue
        v = x[idx]
        if t >= 4:
            v = v.flip(3)
        out[idx] = torch.rot90(v, t % 4, (2, 3))
    return out


def rgb_to_hed(x):
    """[N,3,H,W] RGB in [0,1] -> stain optical densities [N,3,H,W] (H, E, D)."""
    od = -torch.log(x.clamp(min=EPS))
    return torch.einsum('nchw,cs->nshw', od, HED_FROM_RGB)


def hed_to_rgb(s):
    od = torch.einsum('nshw,sc->nchw', s, RGB_FROM_HED)
    return torch.exp(-od).clamp(0, 1)


def hed_jitter(x, sigma_scale=0.08, sigma_shift=0.03):
    n = x.shape[0]
    s = rgb_to_hed(x)
    alpha = 1 + (torch.rand(n, 3, 1, 1) * 2 - 1) * sigma_scale
    beta = (torch.rand(n, 3, 1, 1) * 2 - 1) * sigma_shift
    return hed_to_rgb(s * alpha + beta)


def colour_jitter(x, brightness=0.1, contrast=0.15, saturation=0.2):
    n = x.shape[0]
    def u(a):
        return 1 + (torch.rand(n, 1, 1, 1) * 2 - 1) * a
    x = x * u(brightness)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * u(contrast) + mean
    grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = (x - grey) * u(saturation) + grey
    return x.clamp(0, 1)


def stain_augment(x):
    """Full training augmentation on RGB in [0,1]."""
    x = dihedral(x)
    x = hed_jitter(x)
    return colour_jitter(x)
