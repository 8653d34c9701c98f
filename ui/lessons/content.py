"""Lesson content that is more than a sentence: formulas, the seed's mistakes, exercises, findings in words.

Pure: no Streamlit. Formulas are KaTeX source for ``st.latex`` and use symbols only, so they read the same in
every language.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maskattn import DEFAULT_MODEL_ID, MaskPlan, rule
from maskattn.stepthrough import Finding
from ui.markdown import escape
from ui.share import SharedState, to_query_params

from . import Language, tr

# -- formulas

FORMULAS: dict[str, tuple[str, ...]] = {
    "attention": (
        r"\operatorname{Attention}(Q, K, V) = "
        r"\operatorname{softmax}\!\left(\frac{Q K^{\top}}{\sqrt{d_k}}\right) V",
        r"o_i = \sum_j a_{ij}\, v_j, \qquad a_{ij} = \frac{\exp(s_{ij})}{\sum_{j'} \exp(s_{ij'})}, "
        r"\qquad s_{ij} = \frac{q_i \cdot k_j}{\sqrt{d_k}}",
    ),
    "masking": (
        r"\operatorname{Attention}(Q, K, V, M) = "
        r"\operatorname{softmax}\!\left(\frac{Q K^{\top}}{\sqrt{d_k}} + M\right) V",
        r"M_{ij} = \begin{cases} 0 & j \in \mathcal{A}_i \\ -\infty & j \notin \mathcal{A}_i \end{cases}",
        r"a_{ij} = \frac{\exp(s_{ij})}{\sum_{j' \in \mathcal{A}_i} \exp(s_{ij'})} \;\; (j \in \mathcal{A}_i),"
        r"\qquad a_{ij} = 0 \;\; (j \notin \mathcal{A}_i)",
        r"\sum_j a_{ij} = 1",
    ),
    "blocked": (
        r"\mathcal{A}_i = \varnothing \;\Longrightarrow\; a_{ij} = 0 \;\; \forall j, \qquad o_i = 0",
    ),
    "multihead": (
        r"\mathrm{head}_h = \operatorname{Attention}\!\left(X W^Q_h,\; X W^K_h,\; X W^V_h,\; M_h\right)",
        r"W^Q_h, W^K_h \in \mathbb{R}^{d_{\mathrm{model}} \times d_k}, \qquad "
        r"W^V_h \in \mathbb{R}^{d_{\mathrm{model}} \times d_v}",
        r"\operatorname{MultiHead}(X) = "
        r"\operatorname{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\, W^O",
        r"= \sum_{h=1}^{H} \mathrm{head}_h\, W^O_h, \qquad "
        r"W^O \in \mathbb{R}^{H d_v \times d_{\mathrm{model}}}",
    ),
    # Short lines (the words are in the text around them, in the page's language): a phone-width column and
    # a sidebar leave about 470 px.
    "formula2": (
        r"A\,(m \odot V) = (A \odot \mathbf{1}\, m^{\top})\, V, \quad m_j \in \{0, 1\}",
        r"\tilde a_{ij} = a_{ij}\, m_{ij}",
        r"\sum_j \tilde a_{ij} = 1 - \sum_{j \notin \mathcal{A}_i} a_{ij} \;<\; 1",
    ),
}

# The seed example as it runs on our module (shown next to its live output on the Learn page).
SEED_EXAMPLE_CODE = """\
import torch
from maskattn import MaskedMultiheadAttention

mha = MaskedMultiheadAttention(d_model=512, num_heads=2, d_k=64, d_v=64, dropout=0.1)
query, key, value = (torch.randn(10, 20, 512) for _ in range(3))  # batch-first

mask = torch.zeros(10, 20, 20, dtype=torch.bool)  # the seed's polarity: True = blocked
mask[0, 2:5] = True
allow = ~mask  # ours: True = may attend, converted once

out, weights = mha(query, key, value, allow)  # two results; no mask is kept
out.shape, weights.shape  # (10, 20, 512), (10, 2, 20, 20)
"""

# -- the seed's mistakes


@dataclass(frozen=True)
class Mistake:
    """One row of the table: where, what the seed says, what is correct; each in both languages."""

    where: dict[str, str]
    seed: dict[str, str]
    correct: dict[str, str]


MISTAKES: tuple[Mistake, ...] = (
    Mistake(
        {"en": "formula 1", "zh": "公式 1"},
        {"en": "softmax(QKᵀ/√d_k) ⊙ V, element-wise", "zh": "softmax(QKᵀ/√d_k) ⊙ V，逐元素相乘"},
        {"en": "softmax(QKᵀ/√d_k) · V, a matrix product", "zh": "softmax(QKᵀ/√d_k) · V，矩阵乘法"},
    ),
    Mistake(
        {"en": "formula 2", "zh": "公式 2"},
        {
            "en": "softmax(QKᵀ/√d_k) ⊙ (mask ⊙ V): the mask zeroes the **values** (for a mask over whole "
            "keys the same as zeroing the weights after the softmax, section 6)",
            "zh": "softmax(QKᵀ/√d_k) ⊙ (mask ⊙ V)：掩码把**值**置零（对整列屏蔽键的掩码，"
            "这等同于在 softmax 之后把权重置零，见第 6 节）",
        },
        {
            "en": "the mask acts on the **scores**: softmax(QKᵀ/√d_k + M) · V, M = 0 allowed / −∞ blocked; "
            "masking after the softmax leaves rows summing to less than 1 (section 6)",
            "zh": "掩码作用在**分数**上：softmax(QKᵀ/√d_k + M) · V，允许处 M = 0、屏蔽处 −∞；"
            "在 softmax 之后再屏蔽，行之和会小于 1（见第 6 节）",
        },
    ),
    Mistake(
        {"en": "section 3, step 5", "zh": "第 3 节第 5 步"},
        {"en": "a weighted sum of the **query** vectors", "zh": "对**查询**向量加权求和"},
        {"en": "a weighted sum of the **value** vectors", "zh": "对**值**向量加权求和"},
    ),
    Mistake(
        {"en": "mask polarity", "zh": "掩码极性"},
        {
            "en": "text: 0 = blocked, 1 = allowed; code: bool True = blocked (`nn.MultiheadAttention`)",
            "zh": "正文：0 = 屏蔽，1 = 允许；代码：布尔 True = 屏蔽（`nn.MultiheadAttention` 的约定）",
        },
        {
            "en": "one convention everywhere: **True = may attend**; convert once at the boundary",
            "zh": "处处只用一种约定：**True = 可以关注**；只在边界处转换一次",
        },
    ),
    Mistake(
        {"en": "code: projections", "zh": "代码：投影"},
        {
            "en": "defines `Wq`, `Wk`, `Wv` but never uses them; `nn.MultiheadAttention` has its own; d_k, "
            "d_v ignored",
            "zh": "定义了 `Wq`、`Wk`、`Wv` 却从未使用；`nn.MultiheadAttention` 自带投影；d_k、d_v 被忽略",
        },
        {
            "en": "one set of projections, used; d_k and d_v honoured",
            "zh": "只有一套投影并且真正使用；遵守 d_k 和 d_v",
        },
    ),
    Mistake(
        {"en": "code: return value", "zh": "代码：返回值"},
        {
            "en": "`query, key, value = self.attention(...)`: it returns two values, so this raises",
            "zh": "`query, key, value = self.attention(...)`：它只返回两个值，所以会报错",
        },
        {"en": "`out, weights = ...`", "zh": "`out, weights = ...`"},
    ),
    Mistake(
        {"en": "code: layout", "zh": "代码：张量布局"},
        {
            "en": "passes (batch, seq, d_model) without `batch_first=True`: batch and sequence silently "
            "swapped",
            "zh": "传入 (batch, seq, d_model) 却没有 `batch_first=True`：批和序列维度被悄悄交换",
        },
        {"en": "explicit layout; batch-first accepted", "zh": "明确布局；接受批维度在前"},
    ),
    Mistake(
        {"en": "code: mask shape", "zh": "代码：掩码形状"},
        {
            "en": "(batch, seq, seq): `nn.MultiheadAttention` wants (L, S) or (batch·heads, L, S), so it "
            "raises",
            "zh": "(batch, seq, seq)：`nn.MultiheadAttention` 需要 (L, S) 或 (batch·heads, L, S)，所以会报错",
        },
        {
            "en": "accept (L, S), (B, L, S) and (B, H, L, S), broadcast",
            "zh": "接受 (L, S)、(B, L, S) 和 (B, H, L, S)，并广播",
        },
    ),
    Mistake(
        {"en": "code: state", "zh": "代码：状态"},
        {
            "en": "stores the mask on `self.mask` and reuses it on later calls without a mask",
            "zh": "把掩码存到 `self.mask`，之后不传掩码的调用也会沿用它",
        },
        {
            "en": "no hidden state: a call without a mask is unmasked",
            "zh": "没有隐藏状态：不传掩码就是不加掩码",
        },
    ),
    Mistake(
        {"en": "code: output projection", "zh": "代码：输出投影"},
        {
            "en": "`fc` maps d_v·heads → d_model but receives d_model features",
            "zh": "`fc` 把 d_v·heads 映射到 d_model，收到的却是 d_model 维特征",
        },
        {"en": "shapes consistent for any d_k, d_v", "zh": "对任意 d_k、d_v 形状都一致"},
    ),
    Mistake(
        {"en": "section 2", "zh": "第 2 节"},
        {
            "en": "“masked multi-head attention does not exist in the original Transformer”",
            "zh": "“带掩码的多头注意力层在原始 Transformer 结构中并不存在”",
        },
        {
            "en": "the original decoder uses exactly this (causal mask); padding masks are in encoder and "
            "decoder",
            "zh": "原始 Transformer 的解码器正是用它（因果掩码）；编码器和解码器都用填充掩码",
        },
    ),
)


def mistakes_markdown(lang: Language) -> str:
    """Return the table of the seed's mistakes as a Markdown table in ``lang``."""
    header = [
        tr("learn.mistakes.where", lang),
        tr("learn.mistakes.seed", lang),
        tr("learn.mistakes.correct", lang),
    ]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|"]
    for m in MISTAKES:
        cells = (m.where[lang], m.seed[lang], m.correct[lang])
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


# -- exercises


@dataclass(frozen=True)
class Exercise:
    """A prepared Explorer state and what to look at, in both languages.

    ``watch`` names the token positions the instructions talk about (checked against the default model's
    tokenizer in the tests, so the text and the plan's indices cannot drift apart).
    """

    key: str
    title: dict[str, str]
    task: dict[str, str]
    text: str
    plan: MaskPlan
    focus: tuple[int, int]
    watch: dict[int, str]

    def query_params(self, model: str = DEFAULT_MODEL_ID) -> dict[str, str]:
        """Return the Explorer's URL query parameters for this exercise."""
        return to_query_params(SharedState(self.text, model, self.plan, self.focus))


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        key="subject",
        title={"en": "Hide the subject from the verb", "zh": "让动词看不到主语"},
        task={
            "en": "Head 3.1 links the verb *are* to its subject *keys* (weight ≈ 0.79). The plan blocks the "
            "key "
            "*keys* for this head only. In *Before / after*, follow the row of *are*: where does its "
            "attention "
            "go now, and does the row still sum to 1?",
            "zh": "第 3 层第 1 个头把动词 *are* 和它的主语 *keys* 联系起来（权重约 0.79）。"
            "计划只在这个头里屏蔽键 "
            "*keys*。在“Before / after”中看 *are* 这一行：它的注意力转到了哪里？这一行之和还是 1 吗？",
        },
        text="The keys to the cabinet are on the table.",
        plan=MaskPlan((rule([3], [1], block={"keys": [2]}, label="hide the subject"),)),
        focus=(3, 1),
        watch={2: "keys", 6: "are"},
    ),
    Exercise(
        key="previous",
        title={"en": "Break the previous-token head", "zh": "破坏“前一个词元”头"},
        task={
            "en": "Head 0.2 makes almost every token attend to the token just before it (*sat* → *cat*: "
            "1.00). "
            "The plan blocks *cat* for it. Which key takes over in *sat*'s row, and how much does the "
            "sentence "
            "embedding move (*Effect*)?",
            "zh": "第 0 层第 2 个头让几乎每个词元都关注它前面的那个词元（*sat* → *cat*：1.00）。"
            "计划为这个头屏蔽了 "
            "*cat*。在 *sat* 这一行，哪个键接替了它？句子嵌入变化了多少（“Effect”）？",
        },
        text="The cat sat on the mat.",
        plan=MaskPlan((rule([0], [2], block={"keys": [2]}, label="hide the previous token"),)),
        focus=(0, 2),
        watch={2: "cat", 3: "sat"},
    ),
    Exercise(
        key="causal",
        title={"en": "Make the encoder causal", "zh": "把编码器变成因果的"},
        task={
            "en": "Every head of every layer gets the causal mask: a token sees only itself and earlier "
            "tokens, "
            "as in a decoder. The upper triangle is blocked everywhere. How far does the sentence embedding "
            "move?",
            "zh": "所有层的所有头都加上因果掩码：每个词元只能看到自己和前面的词元，和解码器一样。"
            "上三角处处被屏蔽。句子嵌入变化了多少？",
        },
        text="Paris is the capital of France.",
        plan=MaskPlan((rule(allow={"preset": "causal"}, label="causal everywhere"),)),
        focus=(0, 0),
        watch={1: "paris", 6: "france"},
    ),
    Exercise(
        key="window",
        title={"en": "Local attention only", "zh": "只用局部注意力"},
        task={
            "en": "A sliding window of one token on each side, in every head: each token sees its neighbours "
            "only. Compare the overview before and after: which heads change most?",
            "zh": "所有头都用左右各一个词元的滑动窗口：每个词元只能看到相邻的词元。"
            "对比前后的总览：哪些头变化最大？",
        },
        text="She gave him the book that she had bought in Tokyo.",
        plan=MaskPlan((rule(allow={"preset": "sliding_window", "size": 1}, label="window of 1"),)),
        focus=(2, 0),
        watch={5: "book", 11: "tokyo"},
    ),
    Exercise(
        key="blocked_row",
        title={"en": "A query that may attend to nothing", "zh": "一个什么都不能关注的查询"},
        task={
            "en": "In layer 0 every key of the query *sat* is blocked, in all heads. Its weights are 0, not "
            "NaN: "
            "the row is empty and the heads add nothing for *sat*. How much does *sat*'s hidden state change "
            "(*Effect*), and which other tokens change?",
            "zh": "在第 0 层的所有头里，查询 *sat* 的所有键都被屏蔽。它的权重是 0，而不是 NaN：这一行是空的，"
            "各个头对 *sat* 没有任何贡献。*sat* 的隐藏状态变化了多少（“Effect”）？还有哪些词元也变了？",
        },
        text="The cat sat on the mat.",
        plan=MaskPlan((rule([0], "all", block={"queries": [3]}, label="sat attends to nothing"),)),
        focus=(0, 0),
        watch={3: "sat"},
    ),
)


# -- findings in words


def _label(labels: list[str], index: int | None) -> str:
    if index is None or not 0 <= index < len(labels):
        return "?"
    return f"‘{escape(labels[index])}’"  # a token is user text inside Markdown


def describe_finding(finding: Finding, labels: list[str], lang: Language) -> str:
    """Return one Markdown sentence in ``lang`` saying what ``finding`` shows, with its numbers."""
    key = f"lab.finding.{finding.kind}"
    if finding.kind == "nothing_blocked":
        return tr(key, lang)
    if finding.kind == "rows_sum_to_one":
        return tr(key, lang, count=finding.count, deviation=f"{finding.value:.1e}")
    values = {
        "query": finding.query,
        "query_label": _label(labels, finding.query),
        "key": finding.key,
        "key_label": _label(labels, finding.key),
        "value": "" if finding.value is None else f"{finding.value:.2f}",
    }
    return tr(key, lang, **values)


# -- the seed example's numbers


@dataclass(frozen=True)
class SeedExampleSummary:
    """What the Learn page states about a run of the seed example, measured on that run."""

    shapes: dict[str, tuple[int, ...]]
    blocked_item: int
    blocked_queries: tuple[int, ...]
    blocked_weight_sum: float  # every weight of the fully blocked rows, summed over heads and keys
    output_equals_bias: bool  # the fully blocked rows' output is W^O's bias
    open_row_deviation: float  # largest |row sum − 1| over every other row
    has_nan: bool


def summarize_seed_example(result: dict) -> SeedExampleSummary:
    """Return the shapes and checks of ``examples.seed_example.run_seed_example``'s result."""
    out, weights, allow = (
        result["out"],
        result["weights"],
        result["allow"],
    )  # (B, T, E), (B, H, T, T), (B, T, T)
    item, rows = result["blocked_item"], list(result["blocked_queries"])
    bias = result["module"].w_o.bias.detach()  # (E,)
    open_rows = allow.any(dim=-1)[:, None, :].expand(weights.shape[:3])  # (B, H, T)
    sums = weights.sum(dim=-1)  # (B, H, T)
    return SeedExampleSummary(
        shapes={name: tuple(result[name].shape) for name in SHAPE_ROWS},
        blocked_item=item,
        blocked_queries=tuple(rows),
        blocked_weight_sum=float(weights[item, :, rows].sum()),
        output_equals_bias=bool(torch.allclose(out[item, rows], bias.expand(len(rows), -1))),
        open_row_deviation=float((sums[open_rows] - 1.0).abs().max()),
        has_nan=bool(out.isnan().any() or weights.isnan().any()),
    )


SHAPE_ROWS = ("query", "key", "value", "blocked", "allow", "out", "weights")


def findings_markdown(findings: list[Finding], labels: list[str], lang: Language) -> str:
    """Return the findings as a Markdown list; only the worst row also explains where its mass went."""
    lines: list[str] = []
    explained = False
    for finding in findings:
        sentence = describe_finding(finding, labels, lang)
        if finding.kind == "blocked_mass":
            if not explained:
                lines[-1] += " " + sentence
            explained = True
            continue
        lines.append(f"- {sentence}")
    return "\n".join(lines)
