"""An attentional encoder-decoder on the engine: the walkthrough's step 7 outputs feeding a decoder.

Encoder: embedding -> lstmkit ``LSTM`` (bidirectional by default) over the source, masked by lengths; its
outputs ``(B, S, D*P)`` are the attention memory. Bridge: each layer's final ``c`` and ``h`` (both directions
concatenated, ``(B, D*H)`` and ``(B, D*P)``) -> Linear -> tanh -> the decoder layer's initial state ``c (B, H)``,
``h (B, P)``.

Decoder, one step (TensorFlow's ``AttentionWrapper`` order, Luong et al. 2015 with input feeding):

    x_t     = [embed(y_{t-1}); att_{t-1}]                 (B, E + P)   input feeding: last step's attentional h
    h_t     = stacked LSTM cells(x_t, state)              (B, P)
    a_t     = softmax over valid source steps of score(h_t, memory)     (B, S)
    ctx_t   = a_t @ memory                                 (B, D*P)
    att_t   = tanh(W_c [ctx_t; h_t])                       (B, P)
    logits  = W_o att_t                                    (B, V)

Encoder and decoder use one kind of cell (``cell`` and its options, as :class:`lstmkit.nn.LSTM` takes them);
``P`` is the cells' output size: ``num_proj`` with a projecting ``LSTMCell``, else ``H``.

Training feeds the gold previous token (teacher forcing). Decoding is greedy or a batched beam search with
GNMT's length normalisation ``log P / ((5 + |Y|) / 6) ** alpha``. Both search through three hooks (``start``,
``advance``, ``reorder``), so :class:`Seq2SeqEnsemble` (several models' next-token probabilities averaged) searches
with the same code.

Shape legend: ``B`` batch, ``S`` source steps, ``T`` target steps, ``E`` embedding size, ``H`` units, ``P``
the cells' output size (``num_proj`` or ``H``), ``D`` encoder directions, ``V`` target vocabulary, ``K`` beam size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .attention import Attention
from .cells import LSTMStateTuple
from .embedding import padded_embedding
from .lstm import LSTM
from .record import record
from .sequences import valid_mask

ATTENTIONS = ("dot", "general", "additive", "none")


@dataclass
class Hypothesis:
    tokens: list      # target ids, without <bos> and <eos>
    log_prob: float   # sum of the tokens' log-probabilities (<eos> included when finished)
    score: float      # log_prob / length penalty: what the beam ranks by
    finished: bool    # ended with <eos> (not cut at the maximum length)


class SearchMixin:
    """Greedy decoding and batched beam search for any model with ``bos_id``, ``eos_id`` and three hooks:
    ``start(src, lengths, repeat) -> carry`` (encode; a decoder carry for ``B * repeat`` rows),
    ``advance(prev (N,), carry) -> (log-probabilities (N, V), carry)`` and ``reorder(carry, rows) -> carry``; the
    model is an ``nn.Module`` (its parameters' dtype is the scores')."""

    @torch.no_grad()
    def greedy(self, src, lengths, max_len: int) -> list[Hypothesis]:
        """The most probable token at each step until ``<eos>`` or ``max_len`` tokens, for the whole batch."""
        B = src.shape[0]
        carry = self.start(src, lengths)
        prev = torch.full((B,), self.bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        tokens, log_prob = [], torch.zeros(B, device=src.device, dtype=next(self.parameters()).dtype)
        for _ in range(max_len):
            logp, carry = self.advance(prev, carry)                          # (B, V)
            best, prev = logp.max(dim=1)
            log_prob += torch.where(done, torch.zeros_like(best), best)
            tokens.append(prev.masked_fill(done, 0))
            done = done | (prev == self.eos_id)
            if done.all():
                break
        rows = torch.stack(tokens, dim=1).tolist() if tokens else [[] for _ in range(B)]
        hyps = []
        for row, lp, fin in zip(rows, log_prob.tolist(), done.tolist()):
            ids = row[: row.index(self.eos_id)] if self.eos_id in row else [i for i in row if i]
            hyps.append(Hypothesis(ids, lp, lp / length_penalty(len(ids) + fin, 0.0), fin))
        return hyps

    @torch.no_grad()
    def beam_search(self, src, lengths, beam_size: int, max_len: int, alpha: float = 0.6,
                    n_best: int | None = None) -> list[list[Hypothesis]]:
        """Batched beam search: ``beam_size`` hypotheses per source, the ``n_best`` (default ``beam_size``)
        best returned per source, best first, ranked by ``log P / ((5 + |Y|) / 6) ** alpha`` (|Y| counts
        ``<eos>``). A source's search stops when it holds ``beam_size`` finished hypotheses or at ``max_len``.
        """
        K, B = beam_size, src.shape[0]
        n_best = min(n_best or K, K)
        carry = self.start(src, lengths, repeat=K)
        prev = torch.full((B * K,), self.bos_id, dtype=torch.long, device=src.device)
        scores = torch.full((B, K), float("-inf"), device=src.device, dtype=next(self.parameters()).dtype)
        scores[:, 0] = 0.0                                 # one live hypothesis per source at the start
        history = [[[] for _ in range(K)] for _ in range(B)]
        finished = [[] for _ in range(B)]
        active = [True] * B
        for t in range(max_len):
            logp, carry = self.advance(prev, carry)                          # (B*K, V)
            V = logp.shape[1]
            cand = (scores.view(B * K, 1) + logp).view(B, K * V)                           # (B, K*V)
            top_scores, top_ids = cand.topk(min(2 * K, K * V), dim=1)                      # room for <eos> ones
            beam_of, token_of = (top_ids // V).tolist(), (top_ids % V).tolist()
            top_scores = top_scores.tolist()
            pick_rows, pick_tokens, new_scores = [], [], torch.full_like(scores, float("-inf"))
            new_history = [[[] for _ in range(K)] for _ in range(B)]
            for b in range(B):
                alive = 0
                for rank, (s, k, tok) in enumerate(zip(top_scores[b], beam_of[b], token_of[b])):
                    if not active[b] or s == float("-inf"):
                        break
                    if tok == self.eos_id:
                        if rank >= K:   # an <eos> outside the K best candidates does not end a hypothesis
                            continue
                        finished[b].append(Hypothesis(history[b][k], s, s / length_penalty(t + 1, alpha), True))
                        if len(finished[b]) >= K:
                            active[b] = False
                        continue
                    if alive < K:
                        new_history[b][alive] = history[b][k] + [tok]
                        new_scores[b, alive] = s
                        pick_rows.append(b * K + k)
                        pick_tokens.append((b * K + alive, tok))
                        alive += 1
                if active[b] and alive == 0:
                    active[b] = False
            if not any(active):
                break
            # reorder the beams' states to follow their chosen parents
            src_rows = torch.arange(B * K, device=src.device)
            dst = torch.tensor([d for d, _ in pick_tokens], dtype=torch.long, device=src.device)
            src_rows[dst] = torch.tensor(pick_rows, dtype=torch.long, device=src.device)
            carry = self.reorder(carry, src_rows)
            prev = torch.full((B * K,), self.eos_id, dtype=torch.long, device=src.device)
            prev[dst] = torch.tensor([tok for _, tok in pick_tokens], dtype=torch.long, device=src.device)
            scores = torch.where(torch.tensor(active, device=src.device).unsqueeze(1), new_scores,
                                 torch.full_like(new_scores, float("-inf")))
            history = new_history
        results = []
        for b in range(B):
            hyps = finished[b]
            if len(hyps) < n_best:  # cut at max_len: the live ones, unfinished, compete too
                for k in range(K):
                    s = float(scores[b, k])
                    if s > float("-inf"):
                        hyps = hyps + [Hypothesis(history[b][k], s, s / length_penalty(len(history[b][k]), alpha),
                                                  False)]
            results.append(sorted(hyps, key=lambda h: -h.score)[:n_best])
        return results


class Seq2Seq(SearchMixin, nn.Module):
    """Encoder LSTM, bridge, attentional decoder (see the module docstring for the equations).

    Args: source_vocab, target_vocab: ``V_s``, ``V``; embedding_dim ``E``; units ``H``; layers (encoder and
    decoder alike); bidirectional encoder; attention ``"dot"`` (needs ``D*P == P``: a unidirectional encoder),
    ``"general"``, ``"additive"`` or ``"none"``; input_feeding; dropout; bos_id and eos_id of the target side;
    cell and ``**cell_options``: the encoder's and decoder's cells, as :class:`lstmkit.nn.LSTM` takes them
    (``cell="lstm", num_proj=P, use_peepholes=True, ...``).

    Recorded under :func:`lstmkit.nn.recording` (``lstmkit explain`` shows these):

    ========================  ============================================================================
    ``embedded_source``       ``(B, S, E)`` the source vectors (before dropout)
    ``memory``                ``(B, S, D*P)`` the encoder's outputs, zero at padded source steps
    ``encoder_final_states``  per layer ``LSTMStateTuple(c (B, H), h (B, P))``, or its ``(fw, bw)`` pair
    ``decoder_state``         the bridged initial state: per layer ``LSTMStateTuple(c (B, H), h (B, P))``
    ``attention_keys``        ``(B, S, H or A)`` the memory as the score reads it
    ``step_attention``        ``(B, S)`` once per decoder step (teacher forcing with input feeding, greedy
                              and beam search): the weights over the source steps
    ``attention``             ``(B, T, S)`` every output step's weights (``forward``)
    ``logits``                ``(B, T, V)`` (``forward``)
    ========================  ============================================================================

    Without attention (``"none"``) the three attention names are never recorded.
    """

    def __init__(self, source_vocab: int, target_vocab: int, embedding_dim: int = 64, units: int = 256,
                 layers: int = 1, bidirectional: bool = True, attention: str = "general", input_feeding: bool = True,
                 dropout: float = 0.2, bos_id: int = 2, eos_id: int = 3, cell: str = "basic", **cell_options):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"Seq2Seq: attention must be one of {ATTENTIONS}, got {attention!r}")
        D, H, E = 2 if bidirectional else 1, units, embedding_dim
        if attention == "dot" and D != 1:
            raise ValueError(f"Seq2Seq: dot attention compares the decoder's h (P) with encoder outputs of "
                             f"D*P (D={D}); use a unidirectional encoder, or attention 'general' or 'additive'")
        self.units, self.layers, self.directions = H, layers, D
        self.bos_id, self.eos_id = bos_id, eos_id
        self.feeding = input_feeding and attention != "none"
        self.src_embedding = padded_embedding(source_vocab, E)
        self.tgt_embedding = padded_embedding(target_vocab, E)
        self.encoder = LSTM(E, H, num_layers=layers, bidirectional=bidirectional,
                            dropout=dropout if layers > 1 else 0.0, cell=cell, **cell_options)
        P = self.encoder.cell(0).output_size          # the cells' output size: num_proj or H
        self.output_size = P                          # of the decoder's h and its attentional output att_t
        self.bridge_c = nn.Linear(D * H, H)
        self.bridge_h = nn.Linear(D * P, P)
        # the decoder's cells live in an LSTM: without input feeding, teacher forcing runs it on the fused kernel
        self.decoder = LSTM(E + (P if self.feeding else 0), H, num_layers=layers,
                            dropout=dropout if layers > 1 else 0.0, cell=cell, **cell_options)
        self.attention = None if attention == "none" else Attention(attention, P, D * P)
        self.combine = None if attention == "none" else nn.Linear(D * P + P, P, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(P, target_vocab)

    # -- encoder ---------------------------------------------------------------------------------------------
    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> dict:
        """``src (B, S)`` ids -> memory ``(B, S, D*P)``, its attention keys, the valid-step mask ``(B, S)``,
        the encoder's final states (``finals``, as ``LSTM`` returns them) and the decoder's initial state (one
        ``LSTMStateTuple(c (B, H), h (B, P))`` per layer)."""
        x = self.src_embedding(src)                                                       # (B, S, E)
        record("embedded_source", x)
        memory, finals = self.encoder(self.dropout(x), lengths)                          # (B, S, D*P)
        state = []
        for layer in finals:
            parts = layer if isinstance(layer, tuple) and not isinstance(layer, LSTMStateTuple) else (layer,)
            c = torch.cat([p.c for p in parts], dim=1)                                    # (B, D*H)
            h = torch.cat([p.h for p in parts], dim=1)                                    # (B, D*P)
            state.append(LSTMStateTuple(torch.tanh(self.bridge_c(c)), torch.tanh(self.bridge_h(h))))
        mask = valid_mask(lengths, src.shape[1])                                         # (B, S)
        keys = self.attention.keys(memory) if self.attention is not None else None
        record("memory", memory)
        record("encoder_final_states", finals)
        record("decoder_state", tuple(state))
        if keys is not None:
            record("attention_keys", keys)
        return {"memory": memory, "keys": keys, "mask": mask, "state": state, "finals": finals}

    # -- decoder ---------------------------------------------------------------------------------------------
    def step(self, prev: torch.Tensor, state: list, feed, enc: dict):
        """One decoder step: ``prev (B,)`` ids -> ``(att_t (B, P), new state, attention weights (B, S) or None)``."""
        x = self.tgt_embedding(prev)                                                       # (B, E)
        if self.feeding:
            x = torch.cat([x, feed], dim=1)                                                # (B, E + P)
        x = self.dropout(x)
        new_state = []
        for k in range(self.layers):
            cell = self.decoder.cell(k)
            h, st = cell.recurrent_step(cell.project_inputs(x), state[k])                  # (B, P)
            new_state.append(st)
            x = self.dropout(h) if k + 1 < self.layers else h
        if self.attention is None:
            return h, new_state, None
        context, weights = self.attention.attend(h, enc["keys"], enc["memory"], enc["mask"])  # (B, D*P), (B, S)
        record("step_attention", weights)
        return torch.tanh(self.combine(torch.cat([context, h], dim=1))), new_state, weights  # (B, P)

    def forward(self, src, lengths, tgt_in, return_attention: bool = False):
        """Teacher forcing: ``tgt_in (B, T)`` = ``<bos> y_1 .. y_{T-1}`` -> logits ``(B, T, V)`` (and the
        attention weights ``(B, T, S)`` when asked)."""
        enc = self.encode(src, lengths)
        if self.feeding:      # each step reads the last one's attentional output: a loop over time
            state, feed = enc["state"], self._zero_feed(src.shape[0], enc)
            outs, weights = [], []
            for t in range(tgt_in.shape[1]):
                feed, state, w = self.step(tgt_in[:, t], state, feed, enc)
                outs.append(feed)
                weights.append(w)
            att = torch.stack(outs, dim=1)                                                  # (B, T, P)
            weights = torch.stack(weights, dim=1) if self.attention is not None else None  # (B, T, S)
        else:                 # every step's h at once (fused kernel), then attention for all steps together
            x = self.dropout(self.tgt_embedding(tgt_in))                                   # (B, T, E)
            h, _ = self.decoder(x, initial_state=tuple(enc["state"]))                      # (B, T, P)
            att, weights = h, None
            if self.attention is not None:
                context, weights = self.attention.attend(h, enc["keys"], enc["memory"], enc["mask"])  # (B, T, D*P)
                att = torch.tanh(self.combine(torch.cat([context, h], dim=2)))             # (B, T, P)
        logits = self.out(self.dropout(att))                                               # (B, T, V)
        if weights is not None:
            record("attention", weights)
        record("logits", logits)
        return (logits, weights) if return_attention else logits

    def _next_log_probs(self, feed) -> torch.Tensor:
        """``log P(y_t | ...)`` ``(B, V)``; ``<pad>`` and ``<bos>`` are never outputs."""
        logp = torch.log_softmax(self.out(feed), dim=1)
        logp[:, 0] = float("-inf")
        logp[:, self.bos_id] = float("-inf")
        return logp

    def _zero_feed(self, batch: int, enc: dict):
        return enc["memory"].new_zeros(batch, self.output_size) if self.feeding else None

    # -- decoding hooks (see SearchMixin) ---------------------------------------------------------------------
    def start(self, src, lengths, repeat: int = 1) -> dict:
        """Encode ``src (B, S)``; the decoder's carry for ``B * repeat`` rows (each source's rows adjacent)."""
        enc = self.encode(src, lengths)
        state = enc["state"]
        if repeat > 1:
            enc = {k: (v.repeat_interleave(repeat, dim=0) if torch.is_tensor(v) else v) for k, v in enc.items()}
            state = [LSTMStateTuple(s.c.repeat_interleave(repeat, 0), s.h.repeat_interleave(repeat, 0)) for s in state]
        return {"enc": enc, "state": state, "feed": self._zero_feed(src.shape[0] * repeat, enc)}

    def advance(self, prev: torch.Tensor, carry: dict) -> tuple[torch.Tensor, dict]:
        """Feed ``prev (N,)`` ids: ``log P(y_t | ...)`` ``(N, V)`` and the next carry."""
        feed, state, _ = self.step(prev, carry["state"], carry["feed"], carry["enc"])
        return self._next_log_probs(feed), {"enc": carry["enc"], "state": state, "feed": feed}

    @staticmethod
    def reorder(carry: dict, rows: torch.Tensor) -> dict:
        """Row ``i`` of the new carry is row ``rows[i]`` of the old (beams following their parents; a beam stays
        within its source's rows, so the encoder's memory is left as it is)."""
        return {"enc": carry["enc"], "state": [LSTMStateTuple(s.c[rows], s.h[rows]) for s in carry["state"]],
                "feed": carry["feed"][rows] if carry["feed"] is not None else None}

class Seq2SeqEnsemble(SearchMixin, nn.Module):
    """Several :class:`Seq2Seq` models over the same vocabularies decoding as one: at every step the members'
    next-token probabilities are averaged, ``log P(y_t) = log (1/M) sum_m P_m(y_t | y_<t, x)``, and greedy or
    beam search runs on the average (as OpenNMT's and fairseq's ensembles do). Each member keeps its own encoder
    pass, decoder state and attention. ``forward`` (teacher forcing) returns the averaged log-probabilities
    ``(B, T, V)``, which cross-entropy takes as logits.

    Shape legend as above; ``M`` members.
    """

    def __init__(self, members):
        super().__init__()
        members = list(members)
        if not members or not all(isinstance(m, Seq2Seq) for m in members):
            raise TypeError(f"Seq2SeqEnsemble: members must be a non-empty list of Seq2Seq models, got "
                            f"{[type(m).__name__ for m in members]}")
        first = members[0]
        for k, m in enumerate(members[1:], 2):
            mine = (m.out.out_features, m.src_embedding.num_embeddings, m.bos_id, m.eos_id)
            theirs = (first.out.out_features, first.src_embedding.num_embeddings, first.bos_id, first.eos_id)
            if mine != theirs:
                raise ValueError(f"Seq2SeqEnsemble: member {k} has (target vocabulary, source vocabulary, <bos>, "
                                 f"<eos>) = {mine}, member 1 has {theirs}: members must share their vocabularies")
        self.members = nn.ModuleList(members)
        self.bos_id, self.eos_id = first.bos_id, first.eos_id

    def _mean(self, log_probs: list) -> torch.Tensor:
        """log of the mean probability over the members, from their log-probabilities ``M x (..., V)``."""
        return torch.logsumexp(torch.stack(log_probs), dim=0) - math.log(len(log_probs))

    def forward(self, src, lengths, tgt_in):
        return self._mean([torch.log_softmax(m(src, lengths, tgt_in), dim=-1) for m in self.members])

    def start(self, src, lengths, repeat: int = 1) -> list:
        return [m.start(src, lengths, repeat) for m in self.members]

    def advance(self, prev: torch.Tensor, carry: list) -> tuple[torch.Tensor, list]:
        steps = [m.advance(prev, c) for m, c in zip(self.members, carry)]
        return self._mean([logp for logp, _ in steps]), [c for _, c in steps]

    def reorder(self, carry: list, rows: torch.Tensor) -> list:
        return [m.reorder(c, rows) for m, c in zip(self.members, carry)]


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ``((5 + length) / 6) ** alpha``; 1 for alpha 0 (no normalisation)."""
    return ((5.0 + length) / 6.0) ** alpha if alpha else 1.0
