"""The morphable model as torch tensors (pure tensor ops, no rendering, no losses).

Kept apart from :mod:`face3d.model` (numpy storage) so that fitting code can evaluate shapes and
their Jacobians batched, on any device, with a chosen number of components.
"""

from __future__ import annotations

import torch

from .model import MorphableModel


class FaceModelTensors:
    """Scaled bases so that ``vertices = mean + S @ alpha + E @ beta`` with standard-normal coefficients.

    Attributes:
        mean: (N, 3); shape: (N, 3, K) basis already multiplied by its std; expr: (N, 3, E) likewise.
    """

    def __init__(
        self,
        model: MorphableModel,
        n_shape: int | None = None,
        n_expr: int | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        k = model.n_shape if n_shape is None else min(n_shape, model.n_shape)
        e = model.n_expr if n_expr is None else min(n_expr, model.n_expr)
        kw = dict(device=device, dtype=dtype)
        self.model = model
        self.mean = torch.as_tensor(model.mean, **kw)
        self.shape = torch.as_tensor(model.shape_basis[:, :, :k] * model.shape_std[:k], **kw)
        self.expr = torch.as_tensor(model.expr_basis[:, :, :e] * model.expr_std[:e], **kw)
        self.triangles = torch.as_tensor(model.triangles, dtype=torch.long, device=device)
        self.n_shape, self.n_expr = k, e

    @property
    def n_params(self) -> int:
        return self.n_shape + self.n_expr

    def basis(self) -> torch.Tensor:
        """(N, 3, K + E) joint basis."""
        return torch.cat([self.shape, self.expr], 2)

    def vertices(self, alpha: torch.Tensor, beta: torch.Tensor | None = None, index: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, 3) vertices, or (B, L, 3) at ``index`` ((L,) or (B, L) vertex indices)."""
        coeff = alpha if beta is None or beta.shape[-1] == 0 else torch.cat([alpha, beta], -1)
        if index is None:
            mean, basis = self.mean, self.basis()[:, :, : coeff.shape[-1]]
            return mean + torch.einsum("nck,bk->bnc", basis, coeff)
        mean, basis = self.mean[index], self.basis()[index][..., : coeff.shape[-1]]
        if index.dim() == 1:
            return mean + torch.einsum("lck,bk->blc", basis, coeff)
        return mean + torch.einsum("blck,bk->blc", basis, coeff)
