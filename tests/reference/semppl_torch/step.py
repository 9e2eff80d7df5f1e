"""One SemPPL.Ort training step in PyTorch, written from docs/method.md and the graph sources, in the same order:
target forward -> queue push -> k-NN pseudo-labels + semantic positives -> online forward, objective,
classifier CE, backward -> LARS -> EMA of the target (parameters and BN running statistics).
"""
import time

import torch
import torch.nn.functional as F

from . import model

PHASES = ["target", "queue+pseudolabel", "train", "optimizer", "ema"]


class Settings:
    """The constants of a step; `meta` is the "settings" map the C# side writes (all values are strings)."""

    def __init__(self, meta):
        f = lambda k: float(meta[k])
        i = lambda k: int(meta[k])
        self.large_views, self.small_views = i("large_views"), i("small_views")
        self.batch_unlabelled, self.batch_labelled = i("batch_unlabelled"), i("batch_labelled")
        self.temperature, self.c, self.alpha, self.lam = f("temperature"), f("c"), f("alpha"), f("lambda")
        self.classifier_weight, self.knn_k, self.num_classes = f("classifier_weight"), i("knn_k"), i("num_classes")
        self.momentum, self.weight_decay, self.trust = f("momentum"), f("weight_decay"), f("trust_coefficient")
        self.bn_momentum, self.bn_eps = f("bn_momentum"), f("bn_epsilon")
        self.queue_capacity = i("queue_capacity")
        self.optimizer = meta.get("optimizer", "lars")
        if self.optimizer != "lars":
            raise NotImplementedError("the reference implements LARS only")


class ReferenceState:
    def __init__(self, manifest, initial, settings, device="cpu"):
        s = self.s = settings
        self.device = torch.device(device)
        initial = {k: v.to(self.device) for k, v in initial.items()}
        self.param_entries = manifest["parameters"]            # online.<local>, in manifest order
        self.buffer_entries = manifest["buffers"]
        strip = lambda n: n[len("online."):]
        # local names (encoder.* / projector.*) of the state tensors that start as a copy of an online one: the target
        self.target_names = [strip(e["copyOf"]) for e in manifest["state"] if e["init"] == "copyOf"]
        self.stem = (manifest.get("model") or {}).get("stem", "small")
        self.P = {strip(e["name"]): initial[e["name"]].clone().requires_grad_(True) for e in self.param_entries}
        self.R = {strip(e["name"]): initial[e["name"]].clone() for e in self.buffer_entries}
        self.M = {k: torch.zeros_like(v) for k, v in self.P.items()}
        # The target starts as an exact copy of the online encoder + projector (parameters and buffers).
        self.T = {n: (self.P[n] if n in self.P else self.R[n]).detach().clone() for n in self.target_names}
        d = manifest["shapes"]["embeddingDim"]
        self.qe = torch.zeros(s.queue_capacity, d, device=self.device)
        self.ql = torch.zeros(s.queue_capacity, dtype=torch.int64, device=self.device)
        self.qptr, self.qcount = 0, 0

    def to_channels_last(self):
        """Stores the 4-D weights (online, momentum, target) channels-last, the layout oneDNN's CPU convolutions and
        cuDNN's tensor-core ones prefer; the step's arithmetic is unchanged (timing only, `bench --memory-format`)."""
        cl = lambda t: t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
        self.P = {k: cl(v.detach()).requires_grad_(True) for k, v in self.P.items()}
        self.M = {k: cl(v) for k, v in self.M.items()}
        self.T = {k: cl(v) for k, v in self.T.items()}

    # ---------------------------------------------------------------- networks
    def target_forward(self, views):
        with torch.no_grad():
            bn = model.BatchNorm(self.T, None, self.s.bn_momentum, self.s.bn_eps)
            return torch.stack([model.l2_normalize(model.mlp(self.T, bn, model.encoder(self.T, bn, v, self.stem), "projector"))
                                for v in views])

    def online_forward(self, views):
        bn = model.BatchNorm(self.P, self.R, self.s.bn_momentum, self.s.bn_eps)
        preds, first = [], None
        for v in views:
            feats = model.encoder(self.P, bn, v, self.stem)
            first = feats if first is None else first
            proj = model.mlp(self.P, bn, feats, "projector")
            preds.append(model.l2_normalize(model.mlp(self.P, bn, proj, "predictor")))
        return torch.stack(preds), first

    # ---------------------------------------------------------------- queue and pseudo-labels
    def queue_push(self, z, labels):
        s, L = self.s, self.s.large_views
        emb = z[:, s.batch_unlabelled:].reshape(-1, z.shape[-1])          # [L*Bl, D], view-major
        lab = labels.repeat(L)                                             # [L*Bl]
        n, C = emb.shape[0], s.queue_capacity
        skip = max(0, n - C)                                               # n > C: only the last C survive
        slots = (self.qptr + torch.arange(skip, n, device=emb.device)) % C
        self.qe[slots] = emb[skip:]
        self.ql[slots] = lab[skip:]
        self.qptr = (self.qptr + n) % C
        self.qcount = min(self.qcount + n, C)

    def pseudo_labels(self, z, labels, uniforms):
        s = self.s
        Bu, L, k, K = s.batch_unlabelled, s.large_views, s.knn_k, s.num_classes
        dev = z.device
        valid = torch.arange(s.queue_capacity, device=dev) < self.qcount
        if self.qcount == 0:
            pseudo = torch.full((Bu,), -1, dtype=torch.int64, device=dev)
        else:
            n = self.qcount                                                # valid entries are slots 0..count-1
            qe, ql = self.qe[:n], self.ql[:n]
            top_v, top_i = (z[:, :Bu] @ qe.T).topk(min(k, n), dim=-1)      # [L, Bu, k]
            onehot = F.one_hot(ql[top_i], K).to(z.dtype)                   # [L, Bu, k, K]
            votes = onehot.sum((0, 2))
            simsum = (onehot * top_v.unsqueeze(-1)).sum((0, 2))
            # most votes, then the larger summed similarity (docs/method.md, step 3)
            pseudo = (votes * (2 * k * L + 1) + simsum).argmax(1)
        batch_labels = torch.cat([pseudo, labels])
        # semantic positives: the j-th matching valid entry in slot order, j = floor(u * n_i)
        match = (batch_labels[:, None] == self.ql[None, :]) & valid[None, :]  # [N, C]
        n = match.sum(1, keepdim=True)                                     # [N, 1]
        rank = match.long().cumsum(1) - 1
        j = torch.minimum(torch.floor(uniforms * n.to(uniforms.dtype)).long(), n - 1).clamp(min=0)  # [N, nSp]
        hit = match[:, None, :] & (rank[:, None, :] == j[:, :, None])      # [N, nSp, C]
        slot = hit.to(torch.int8).argmax(-1)
        mask = (n.squeeze(1) > 0).to(z.dtype)
        positives = self.qe[slot] * mask.view(-1, 1, 1)
        return pseudo, batch_labels, positives, mask

    # ---------------------------------------------------------------- objective
    def objective(self, p, z, neg, Q, mask):
        """docs/method.md, "The objective"; p [V,B,D] online, z [L,B,D] target, neg [L,B,nNeg], Q [B,nSp,D], mask [B]."""
        s = self.s
        L, V, B = s.large_views, p.shape[0], p.shape[1]
        inv_tau = 1.0 / s.temperature
        z = z.detach()
        negs = torch.stack([z[l][neg[l]] for l in range(L)])                       # [L, B, nNeg, D]
        pos = torch.einsum("mid,lid->mil", p, z) * inv_tau                          # [V, B, L]
        negl = torch.einsum("mid,lind->miln", p, negs) * inv_tau                   # [V, B, L, nNeg]
        logp = torch.log_softmax(torch.cat([pos.unsqueeze(-1), negl], -1), -1)     # [V, B, L, 1+nNeg]
        augm = -logp[..., 0].mean()

        def kl_pairs(lp, weight):   # lp [V, B, L, ...]; sum over a != b of sg(P^{a,b}) (sg(logP^{a,b}) - logP^{b,a})
            total = lp.new_zeros(())
            for a in range(L):
                for b in range(L):
                    if a != b:
                        fixed = lp[a, :, b].detach()
                        total = total + (weight(fixed.exp() * (fixed - lp[b, :, a]))).sum()
            return total

        inv_augm = kl_pairs(logp, lambda t: t) / (B * L * (L - 1)) if L >= 2 else p.new_zeros(())
        nsp = Q.shape[1]
        sempos, inv_sp = p.new_zeros(()), p.new_zeros(())
        if nsp > 0:
            Qm = torch.where(mask.view(B, 1, 1) > 0, Q.detach(), torch.zeros_like(Q))
            spl = torch.einsum("mid,isd->mis", p, Qm) * inv_tau                     # [V, B, nSp]
            cand = torch.cat([spl[:, :, None, :, None].expand(V, B, L, nsp, 1),
                              negl[:, :, :, None, :].expand(V, B, L, nsp, negl.shape[-1])], -1)
            splp = torch.log_softmax(cand, -1)                                     # [V, B, L, nSp, C]
            count = torch.clamp(mask.sum(), min=1.0)
            w = mask.view(1, B, 1, 1)
            sempos = -(splp[..., 0] * w).sum() / (count * V * L * nsp)
            if L >= 2:
                wm = mask.view(B, 1, 1)
                inv_sp = kl_pairs(splp, lambda t: t * wm) / (count * L * (L - 1) * nsp)
        total = s.c * (augm + s.alpha * sempos) + s.lam * (inv_augm + inv_sp)
        return total, augm, sempos, inv_augm + inv_sp

    # ---------------------------------------------------------------- one step
    def step(self, large, small, labels, negatives, uniforms, lr, tau, times=None):
        s = self.s
        clock = [time.perf_counter()]

        def mark(i):
            if times is not None:
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                times[i] += t - clock[0]
                clock[0] = t

        z = self.target_forward(large)                                              # 1
        mark(0)
        with torch.no_grad():
            self.queue_push(z, labels)                                              # 2
            _, _, Q, mask = self.pseudo_labels(z, labels, uniforms)                 # 3, 4
        mark(1)
        views = list(large) + (list(small) if small is not None else [])
        p, first = self.online_forward(views)                                      # 5
        total, augm, sempos, inv = self.objective(p, z, negatives, Q, mask)          # 6
        labelled = first.detach()[s.batch_unlabelled:]
        logits = F.linear(labelled, self.P["classifier.weight"], self.P["classifier.bias"])
        ce = F.cross_entropy(logits, labels)
        acc = (logits.argmax(1) == labels).float().mean()
        loss = total + s.classifier_weight * ce
        names = list(self.P)
        grads = torch.autograd.grad(loss, [self.P[n] for n in names], allow_unused=True)   # 7
        mark(2)
        lr_t = torch.tensor(lr, dtype=torch.float32, device=self.device)
        with torch.no_grad():
            for e, n, g in zip(self.param_entries, names, grads):
                w = self.P[n]
                u = torch.zeros_like(w) if g is None else g
                if not e["excludeFromWeightDecay"] and s.weight_decay != 0:
                    u = u + w * s.weight_decay
                if not e["excludeFromLars"]:
                    wn, un = torch.sqrt((w * w).sum()), torch.sqrt((u * u).sum())
                    trust = torch.where((wn > 0) & (un > 0), wn * s.trust / un, torch.ones_like(wn))
                    u = u * trust
                m = self.M[n] * s.momentum + u
                self.M[n] = m
                w.sub_(m * lr_t)
        mark(3)
        tau_t = torch.tensor(tau, dtype=torch.float32, device=self.device)
        one_minus = 1.0 - tau_t
        with torch.no_grad():                                                       # 8
            for n in self.target_names:
                o = self.P[n] if n in self.P else self.R[n]
                self.T[n] = self.T[n] * tau_t + o * one_minus
        mark(4)
        return {"loss": loss.item(), "loss.augmentation": augm.item(), "loss.semantic_positive": float(sempos),
                "loss.invariance": float(inv), "loss.classifier": ce.item(), "accuracy.classifier": acc.item()}

    def state_tensors(self):
        """Final state under the trainer's state names (StepGraphs.State)."""
        out = []
        out += [("online." + n, t.detach()) for n, t in self.P.items()]
        out += [("online." + n, t) for n, t in self.R.items()]
        out += [("target." + n, t) for n, t in self.T.items()]
        out += [("state.momentum.online." + n, t) for n, t in self.M.items()]
        out += [("queue.embeddings", self.qe), ("queue.labels", self.ql),
                ("queue.pointer", torch.tensor(self.qptr, dtype=torch.int64)),
                ("queue.count", torch.tensor(self.qcount, dtype=torch.int64))]
        return out
