"""Every sentence of the Mask Lab and Learn pages, in English and in Chinese (the seed document's language).

Keys are grouped by page: ``common.*``, ``lab.*`` (Mask Lab), ``trace.*`` (the step-through), ``learn.*``.
Values are ``{"en": ..., "zh": ...}``; ``{name}`` placeholders are filled by ``ui.lessons.tr``. No LaTeX here
(its braces would clash with the placeholders): formulas live in ``content.py``.
"""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    # -- shared
    "common.language": {"en": "Language", "zh": "语言"},
    "common.model_error": {
        "en": "Cannot load the model {model}: {error}",
        "zh": "无法加载模型 {model}：{error}",
    },
    "common.model_fallback": {
        "en": "{error}. Still showing {fallback}.",
        "zh": "{error}。仍在使用 {fallback}。",
    },
    "common.open_explorer": {"en": "Open in the Explorer", "zh": "在 Explorer 中打开"},
    "common.share_link": {"en": "Link to share (opens a new session)", "zh": "分享链接（打开新的会话）"},
    "common.semantics.none": {"en": "no mask", "zh": "无掩码"},
    "preset.full": {"en": "Clear", "zh": "清空"},
    "preset.causal": {"en": "Causal", "zh": "因果"},
    "preset.sliding_window": {"en": "Sliding window", "zh": "滑动窗口"},
    "preset.dilated": {"en": "Dilated", "zh": "空洞（跨步）"},
    "preset.prefix_lm": {"en": "Prefix-LM", "zh": "前缀语言模型"},
    "preset.block_diagonal": {"en": "Block-diagonal", "zh": "块对角"},
    "preset.global_tokens": {"en": "Global tokens", "zh": "全局词元"},
    "preset.padding": {"en": "Padding", "zh": "填充"},
    "preset.random": {"en": "Random", "zh": "随机"},
    # -- Mask Lab
    "lab.title": {"en": "Mask Lab", "zh": "掩码实验室"},
    "lab.intro": {
        "en": "Paint a mask and see one head of our `MaskedMultiheadAttention` under three semantics side by "
        "side: **no mask**, the **correct** one (scores set to −∞ *before* the softmax) and the seed's "
        "**formula 2**, softmax(S)·(mask ⊙ V). Zeroing the value rows of blocked keys is the same as "
        "zeroing those keys' weights *after* the softmax; a mask painted per query and key can only be "
        "applied that way, so that is what formula 2 does here (Learn, section 6, says why). Then step "
        "through one head of a real model.",
        "zh": "画一个掩码，并排查看我们的 `MaskedMultiheadAttention` 中一个头在三种语义下的结果：**无掩码**、"
        "**正确**做法（在 softmax *之前*把分数置为 −∞）以及原文的**公式 2**：softmax(S)·(mask ⊙ V)。"
        "把被屏蔽键对应的值行置零，等同于在 softmax *之后*把这些键的权重置零；按查询和键逐格绘制的掩码"
        "只能这样施加，所以这里的公式 2 就是这样计算的（原因见“学习”第 6 节）。"
        "然后逐步查看真实模型中的一个头。",
    },
    "lab.tab.semantics": {"en": "Three semantics", "zh": "三种语义"},
    "lab.tab.trace": {"en": "Step through a real head", "zh": "逐步查看真实模型的一个头"},
    "lab.source": {"en": "Input vectors", "zh": "输入向量"},
    "lab.source.random": {"en": "seeded random", "zh": "随机（固定种子）"},
    "lab.source.text": {"en": "token embeddings", "zh": "词元嵌入"},
    "lab.length": {"en": "Sequence length", "zh": "序列长度"},
    "lab.heads": {"en": "Heads", "zh": "头数"},
    "lab.head": {"en": "Head shown", "zh": "显示的头"},
    "lab.seed": {"en": "Random seed", "zh": "随机种子"},
    "lab.text": {"en": "Short text", "zh": "短文本"},
    "lab.text.help": {
        "en": "At most {limit} tokens, [CLS] and [SEP] included.",
        "zh": "最多 {limit} 个词元（包括 [CLS] 和 [SEP]）。",
    },
    "lab.module": {
        "en": "`MaskedMultiheadAttention(d_model={d_model}, num_heads={heads})`, d_k = d_v = {dk}, weights "
        "drawn with random seed {seed}. Input: {source}, shape (1, {tokens}, {d_model}).",
        "zh": "`MaskedMultiheadAttention(d_model={d_model}, num_heads={heads})`，d_k = d_v = {dk}，"
        "权重由种子 {seed} 生成。输入：{source}，形状 (1, {tokens}, {d_model})。",
    },
    "lab.module.random": {
        "en": "standard normal vectors (seed {seed})",
        "zh": "标准正态随机向量（种子 {seed}）",
    },
    "lab.module.text": {
        "en": "the embeddings {model} feeds its first layer, standardised per token",
        "zh": "{model} 送入第一层的嵌入向量（按词元标准化）",
    },
    "lab.paint": {"en": "Paint the mask", "zh": "绘制掩码"},
    "lab.paint.caption": {
        "en": "A painted cell is **blocked**: that query (row) may not attend to that key (column). The "
        "shading is head {head}'s correct weights, on the figures' scale. Queries down, keys across.",
        "zh": "涂色的格子表示**屏蔽**：该查询（行）不能关注该键（列）。底色是第 {head} "
        "个头在正确掩码下的权重，色标与下面的图相同。行是查询，列是键。",
    },
    "lab.presets": {"en": "Presets", "zh": "预设"},
    "painter.row": {"en": "query", "zh": "查询"},
    "painter.col": {"en": "key", "zh": "键"},
    "painter.painted": {"en": "blocked", "zh": "已屏蔽"},
    "painter.count": {"en": "{n} of {total} blocked", "zh": "{total} 个格子中屏蔽了 {n} 个"},
    "painter.marked": {"en": "marked", "zh": "已标记"},
    "painter.hint": {
        "en": "click a cell to toggle · drag to paint (first cell decides block/unblock) · shift-drag for a "
        "rectangle · click a token label to toggle its whole row or column · ctrl+z undoes",
        "zh": "点击格子切换 · 拖动涂色（第一个格子决定屏蔽或取消） · 按住 shift 拖动选矩形 · "
        "点击词元标签切换整行或整列 · ctrl+z 撤销",
    },
    # -- Mask Lab
    "lab.blocked_count": {
        "en": "{blocked} of {total} cells blocked",
        "zh": "共 {total} 个格子，屏蔽了 {blocked} 个",
    },
    "lab.weights": {"en": "Head {head}: attention weights", "zh": "第 {head} 个头：注意力权重"},
    "lab.rowsums": {
        "en": "Row sums of head {head} (dashed line: 1)",
        "zh": "第 {head} 个头每一行的和（虚线：1）",
    },
    "lab.weights.caption": {
        "en": "**No mask**: plain softmax · **correct**: −∞ on the scores before the softmax · **formula "
        "2**: the seed's softmax(S)·(mask ⊙ V), here the weights zeroed after the softmax. Colour: "
        "weight from 0 (light) to 1 (dark), the same scale in all three and in the painter; blocked cells "
        "are striped, as in the painter; hover any cell for its number.",
        "zh": "**无掩码**：普通 softmax · **正确**：在 softmax 之前把分数置为 −∞ · **公式 2**：原文的 "
        "softmax(S)·(mask ⊙ V)，在这里即在 softmax 之后把权重置零。颜色：权重从 0（浅）到 1（深），"
        "三张图和绘制网格用同一色标；被屏蔽的格子带斜纹，与绘制网格相同；把鼠标移到格子上可看到数值。",
    },
    "lab.invert": {"en": "⇄ Invert", "zh": "⇄ 反转"},
    "lab.presets.help": {
        "en": "Replaces the painted mask with a preset (default parameters); Invert swaps blocked and "
        "allowed cells.",
        "zh": "用预设（默认参数）替换当前掩码；“反转”交换屏蔽与允许的格子。",
    },
    "lab.legend.none": {"en": "no mask", "zh": "无掩码"},
    "lab.legend.pre_softmax": {"en": "correct", "zh": "正确"},
    "lab.legend.post_softmax": {"en": "formula 2", "zh": "公式 2"},
    "lab.findings": {"en": "What the numbers say", "zh": "数字告诉我们什么"},
    "lab.outputs": {
        "en": "Head outputs (weights · V) under each semantics",
        "zh": "各语义下该头的输出（权重 · V）",
    },
    "lab.finding.nothing_blocked": {
        "en": "Nothing is blocked yet, so the three agree. Paint some cells or pick a preset.",
        "zh": "目前没有任何屏蔽，所以三者完全相同。请涂几个格子或选一个预设。",
    },
    "lab.finding.rows_sum_to_one": {
        "en": "**Correct masking:** all {count} rows that keep at least one key sum to 1 (largest deviation "
        "{deviation}).",
        "zh": "**正确的掩码**：至少保留一个键的 {count} 行，每行之和都是 1（最大偏差 {deviation}）。",
    },
    "lab.finding.row_sum": {
        "en": "**Formula 2:** row {query} ({query_label}) sums to **{value}**, not 1.",
        "zh": "**公式 2**：第 {query} 行（{query_label}）的和是 **{value}**，而不是 1。",
    },
    "lab.finding.blocked_mass": {
        "en": "The blocked key {key} ({key_label}) still took **{value}** of row {query}'s probability in "
        "the softmax before it was zeroed, so the allowed keys share only what was left. Correct masking "
        "gives that mass back to the allowed keys.",
        "zh": "被屏蔽的键 {key}（{key_label}）在 softmax 中仍然拿走了第 {query} 行 **{value}** 的概率，"
        "之后才被置零，所以允许的键只能分到剩下的部分。正确的掩码会把这部分概率还给允许的键。",
    },
    "lab.finding.fully_blocked": {
        "en": "Row {query} ({query_label}) has **every key blocked**: its weights are 0 and the head's "
        "output is 0. We define it so; a plain softmax over nothing but −∞ gives NaN. Formula 2 also "
        "gives 0 here.",
        "zh": "第 {query} 行（{query_label}）的**所有键都被屏蔽**：权重为 0，该头的输出也为 0。"
        "这是我们的约定；对全是 −∞ 的一行直接做 softmax 会得到 NaN。公式 2 在这里同样得到 0。",
    },
    "lab.error.text": {"en": "Cannot use this text: {error}", "zh": "无法使用这段文本：{error}"},
    "lab.error.empty": {"en": "The text is empty: type a few words.", "zh": "文本为空：请输入几个词。"},
    # -- step-through
    "trace.intro": {
        "en": "One ordinary forward pass of **{model}** on your text, through maskattn's attention function. "
        "Every matrix below is what the model computed in layer {layer}, head {head}: hover a cell for "
        "its value.",
        "zh": "对你的文本运行 **{model}** 的一次普通前向传播（经过 maskattn 的注意力函数）。"
        "下面每个矩阵都是模型在第 {layer} 层、第 {head} 个头实际算出的结果："
        "把鼠标移到格子上可以看到数值。",
    },
    "trace.text": {"en": "Text", "zh": "文本"},
    "trace.layer": {"en": "Layer", "zh": "层"},
    "trace.head": {"en": "Head", "zh": "头"},
    "trace.preset": {"en": "Mask for this head", "zh": "这个头的掩码"},
    "trace.block": {"en": "Also block these keys", "zh": "另外屏蔽这些键"},
    "trace.step.q": {"en": "1 · Q: this head's queries", "zh": "1 · Q：这个头的查询"},
    "trace.step.k": {"en": "2 · K: keys", "zh": "2 · K：键"},
    "trace.step.v": {"en": "3 · V: values", "zh": "3 · V：值"},
    "trace.step.scores": {"en": "4 · Q·Kᵀ × {scaling}", "zh": "4 · Q·Kᵀ × {scaling}"},
    "trace.step.mask": {"en": "5 · mask (1 = may attend)", "zh": "5 · 掩码（1 = 可以关注）"},
    "trace.step.masked": {"en": "6 · scores + M", "zh": "6 · 分数 + M"},
    "trace.step.weights": {"en": "7 · softmax weights", "zh": "7 · softmax 权重"},
    "trace.step.head_output": {"en": "8 · weights · V", "zh": "8 · 权重 · V"},
    "trace.step.concat": {
        "en": "9 · Concat(all {heads} heads), columns {lo}–{hi}",
        "zh": "9 · 拼接全部 {heads} 个头，第 {lo}–{hi} 列",
    },
    "trace.step.projected": {
        "en": "10 · Concat · W^O + b, columns {lo}–{hi}",
        "zh": "10 · 拼接 · W^O + b，第 {lo}–{hi} 列",
    },
    "trace.group.qkv": {
        "en": "**Projections.** Q = XW^Q, K = XW^K, V = XW^V, cut to this head: one row per token, one "
        "column per dimension of the head ({dim}).",
        "zh": "**投影。** Q = XW^Q，K = XW^K，V = XW^V，只取这个头的部分：每个词元一行，"
        "每一列是头的一个维度（共 {dim} 维）。",
    },
    "trace.group.scores": {
        "en": "**Scores and mask.** Every query (row) against every key (column); the mask adds −∞ where a "
        "pair is blocked, *before* the softmax.",
        "zh": "**分数与掩码。** 每个查询（行）与每个键（列）打分；掩码在 softmax *之前*给被屏蔽的位置加上 "
        "−∞。",
    },
    "trace.group.weights": {
        "en": "**−∞, softmax, values.** The mask's −∞ lands on the blocked scores; the softmax runs along "
        "each row (blocked cells get exactly 0); each output row is the weighted sum of the rows of V.",
        "zh": "**−∞、softmax 与值。** 掩码的 −∞ 落在被屏蔽的分数上；softmax 沿每一行计算（被屏蔽的格子恰好为 "
        "0）；每一行输出是 V 各行的加权和。",
    },
    "trace.group.output": {
        "en": "**All heads together.** The {heads} heads' outputs side by side, then the output projection "
        "back to the model's width. Pick the columns to show:",
        "zh": "**所有头合在一起。** {heads} 个头的输出并排拼接，再经过输出投影回到模型的宽度。"
        "选择要显示的列：",
    },
    "trace.scaling": {
        "en": "The scale is {scaling} = 1/√{dim}: the head dimension is {dim}.",
        "zh": "缩放因子为 {scaling} = 1/√{dim}：头的维度是 {dim}。",
    },
    "trace.scaling.model": {
        "en": "The model scales the scores by {scaling} (its own setting; 1/√{dim} would be {default}).",
        "zh": "模型用 {scaling} 缩放分数（模型自己的设置；1/√{dim} 应为 {default}）。",
    },
    "trace.check": {
        "en": "✓ These weights are the ones the Explorer shows for layer {layer}, head {head} (largest "
        "difference {diff}); each row with an allowed key sums to 1.",
        "zh": "✓ 这些权重与 Explorer 中第 {layer} 层第 {head} 个头显示的完全一致（最大差 {diff}）；"
        "每个有允许键的行之和为 1。",
    },
    "trace.mismatch": {
        "en": "These weights differ from the Explorer's by {diff}: please report this.",
        "zh": "这些权重与 Explorer 的相差 {diff}：请报告这个问题。",
    },
    "trace.head_columns": {
        "en": "Head {head} occupies columns {start}–{stop} of the concatenation.",
        "zh": "第 {head} 个头占拼接结果的第 {start}–{stop} 列。",
    },
    "trace.columns": {"en": "Columns shown", "zh": "显示的列"},
    "trace.gate": {
        "en": "The plan gates this head by {gate}: its output is multiplied by {gate} before the "
        "concatenation.",
        "zh": "计划给这个头加了门控 {gate}：它的输出在拼接之前乘以 {gate}。",
    },
    "trace.projection.residual": {
        "en": "`{name}`. After it the model adds the residual stream (not shown).",
        "zh": "`{name}`。之后模型还会加上残差（这里没有显示）。",
    },
    "trace.projection.residual_layernorm": {
        "en": "`{name}`. BERT then applies dropout, adds the layer's input (residual) and a LayerNorm: "
        "LayerNorm(x + Concat·W^O + b). Only Concat·W^O + b is shown.",
        "zh": "`{name}`。BERT 之后还会做 dropout、加上该层的输入（残差）再做 LayerNorm：LayerNorm(x + "
        "拼接·W^O + b)。这里只显示 拼接·W^O + b。",
    },
    "trace.error": {"en": "Cannot step through this: {error}", "zh": "无法逐步计算：{error}"},
    "trace.seconds": {
        "en": "forward pass {ms} ms · {tokens} tokens",
        "zh": "前向传播 {ms} 毫秒 · {tokens} 个词元",
    },
    # -- Learn
    "learn.title": {"en": "Learn: masked multi-head attention", "zh": "学习：带掩码的多头注意力"},
    "learn.intro": {
        "en": "The math written out, where the blog post that started this project (in Chinese, "
        "*带掩码的多头注意力*) goes wrong, its example run live on our module, and exercises that open "
        "the Explorer.",
        "zh": "完整写出的数学公式、启发本项目的那篇博客文章（《带掩码的多头注意力》）错在哪里、"
        "在我们的模块上实时运行它的示例，以及在 Explorer 中打开的练习。",
    },
    "learn.toc": {
        "en": "1 Attention · 2 Masking · 3 A fully blocked row · 4 Multi-head · 5 The seed's mistakes · 6 "
        "Formula 2 in numbers · 7 The seed's example, fixed · 8 Exercises",
        "zh": "1 注意力 · 2 掩码 · 3 整行被屏蔽 · 4 多头 · 5 原文的错误 · 6 用数字看公式 2 · 7 "
        "修正后的原文示例 · 8 练习",
    },
    "learn.attention.title": {"en": "1 · Scaled dot-product attention", "zh": "1 · 缩放点积注意力"},
    "learn.attention.body": {
        "en": "Q holds one query vector per row (T_q × d_k), K one key per row (T_k × d_k), V one value per "
        "row (T_k × d_v). The softmax runs along each row, over the keys, so every query's weights are "
        "non-negative and sum to 1. The product with V is a **matrix product**: each output row is a "
        "weighted sum of the **value** vectors.",
        "zh": "Q 的每一行是一个查询向量（T_q × d_k），K 的每一行是一个键（T_k × d_k），V "
        "的每一行是一个值（T_k × d_v）。softmax 沿着每一行（对所有键）计算，所以每个查询的权重非负且和为 "
        "1。与 V 相乘是**矩阵乘法**：每一行输出都是**值**向量的加权和。",
    },
    "learn.masking.title": {
        "en": "2 · Masking: −∞ before the softmax",
        "zh": "2 · 掩码：在 softmax 之前置 −∞",
    },
    "learn.masking.body": {
        "en": "𝒜ᵢ is the set of keys query i may attend to. M is 0 there and −∞ elsewhere, added to the "
        "scores **before** the softmax. Since exp(−∞) = 0, a blocked key gets weight exactly 0 and the "
        "weights of the allowed keys are renormalised: the row still sums to 1.",
        "zh": "𝒜ᵢ 是查询 i 可以关注的键的集合。M 在其中为 0，其余为 −∞，并在 softmax **之前**加到分数上。"
        "因为 exp(−∞) = 0，被屏蔽的键权重恰好为 0，允许的键的权重被重新归一化：这一行之和仍然为 1。",
    },
    "learn.masking.polarity": {
        "en": "In code, maskattn stores a mask as booleans with **True = may attend**, as PyTorch's "
        "`scaled_dot_product_attention` and Hugging Face do. The additive 0 / −∞ form exists only inside "
        "the kernel. (`nn.MultiheadAttention`'s boolean `attn_mask` uses the opposite polarity, True = "
        "blocked, which the seed's code mixes up with its text.)",
        "zh": "在代码中，maskattn 用布尔值存储掩码，**True = 可以关注**，与 PyTorch 的 "
        "`scaled_dot_product_attention` 和 Hugging Face 相同。加性的 0 / −∞ 形式只存在于计算内部。"
        "（`nn.MultiheadAttention` 的布尔 `attn_mask` 极性相反，True = 屏蔽；"
        "原文的代码和正文把两者弄混了。）",
    },
    "learn.blocked.title": {"en": "3 · A row with every key blocked", "zh": "3 · 所有键都被屏蔽的一行"},
    "learn.blocked.body": {
        "en": "If 𝒜ᵢ is empty the softmax has nothing to normalise: 0/0, NaN in floating point. maskattn "
        "defines the result: that row's weights are 0 and its output is 0 (it attends to nothing and "
        "contributes nothing). In multi-head attention that query's output is then just the bias of W^O.",
        "zh": "如果 𝒜ᵢ 为空，softmax 没有东西可以归一化：0/0，在浮点数中是 NaN。maskattn 规定结果："
        "这一行的权重为 0，输出为 0（它什么都不关注，也什么都不贡献）。在多头注意力中，"
        "这个查询的输出就只是 W^O 的偏置。",
    },
    "learn.multihead.title": {"en": "4 · Multi-head attention", "zh": "4 · 多头注意力"},
    "learn.multihead.body": {
        "en": "Each head h has its own projections and may have its own mask M_h. d_k and d_v are free "
        "choices; d_model / H is only the usual default. The heads' outputs are concatenated and "
        "projected back to d_model by W^O, which is the same as adding up each head's output times its "
        "own block of rows of W^O.",
        "zh": "每个头 h 都有自己的投影矩阵，也可以有自己的掩码 M_h。d_k 和 d_v 可以自由选择，d_model / H "
        "只是常用的默认值。各个头的输出拼接起来，再由 W^O 投影回 d_model；这等于把每个头的输出乘以 W^O "
        "中属于它的那几行，再相加。",
    },
    "learn.mistakes.title": {"en": "5 · The seed's mistakes, and the fix", "zh": "5 · 原文的错误与修正"},
    "learn.mistakes.intro": {
        "en": "The post gets the steps right (project, split into heads, score, −∞ before the softmax, "
        "weight the values, concatenate, project). These details are wrong:",
        "zh": "原文的步骤是对的（投影、分头、打分、softmax 之前置 −∞、对值加权、拼接、投影）。"
        "但下面这些细节是错的：",
    },
    "learn.mistakes.where": {"en": "where", "zh": "位置"},
    "learn.mistakes.seed": {"en": "the seed says", "zh": "原文的说法"},
    "learn.mistakes.correct": {"en": "correct", "zh": "正确的做法"},
    "learn.formula2.title": {"en": "6 · Formula 2 in numbers", "zh": "6 · 用数字看公式 2"},
    "learn.formula2.body": {
        "en": "Read as a matrix product, softmax(S)·(mask ⊙ V) keeps the softmax A = softmax(S) over **all** "
        "keys and only then drops the blocked ones (mⱼ = 1 for an allowed key j, 0 for a blocked one). "
        "Why zeroing values is zeroing weights: output row i is Σⱼ aᵢⱼ vⱼ, so "
        "a zero row vⱼ takes key j out of every query's sum, exactly as a zero weight column aᵢⱼ = 0 "
        "would (first line). That holds **only for a mask over whole keys** (m depends on j alone): V has "
        "one row per key, shared by every query, so a mask that blocks key j for some queries and not "
        "for others (causal, sliding window) cannot be written as masking V at all. Its natural reading "
        "is the weights zeroed after the softmax (second line: a mask mᵢⱼ per query and key), which is "
        "what the Mask Lab computes. "
        "Either way each row sums to 1 minus the probability its blocked keys took, and the allowed "
        "keys are not renormalised.",
        "zh": "按矩阵乘法理解，softmax(S)·(mask ⊙ V) 先对**所有**键做 softmax（A = softmax(S)），"
        "之后才去掉被屏蔽的键（允许的键 j 取 mⱼ = 1，被屏蔽的取 0）。"
        "为什么把值置零就是把权重置零：第 i 行输出是 Σⱼ aᵢⱼ vⱼ，所以把 vⱼ 整行置零，就把键 j "
        "从每个查询的和中去掉，与把权重列 aᵢⱼ 置零完全一样（第一行公式）。"
        "这**只对整列屏蔽键的掩码成立**"
        "（m 只取决于 j）：V 每个键只有一行，所有查询共用，"
        "所以一个对某些查询屏蔽键 j、对另一些查询不屏蔽的掩码"
        "（因果、滑动窗口）根本无法写成对 V 的掩码。"
        "它自然的理解是在 softmax 之后把权重置零（第二行公式），"
        "掩码实验室就是这样计算的。无论哪种，每一行的和都等于 1 减去被屏蔽键拿走的概率，"
        "允许的键也没有被重新归一化。",
    },
    "learn.formula2.link": {"en": "Try it in the Mask Lab", "zh": "在掩码实验室里试试"},
    "learn.example.title": {
        "en": "7 · The seed's example, fixed and run live",
        "zh": "7 · 修正后的原文示例（实时运行）",
    },
    "learn.example.body": {
        "en": "num_heads = 2, d_model = 512, d_k = d_v = 64, dropout = 0.1; batch 10, sequence 20, random "
        "query/key/value; the seed's mask `mask[0, 2:5] = True` means *blocked*, so we convert it once: "
        "allow = ~mask. In batch item 0, queries 2–4 may attend to no key at all.",
        "zh": "num_heads = 2，d_model = 512，d_k = d_v = 64，dropout = 0.1；批大小 10，序列长度 20，随机的 "
        "query/key/value；原文的掩码 `mask[0, 2:5] = True` 表示*屏蔽*，所以我们只在入口处转换一次：allow "
        "= ~mask。在第 0 个样本中，查询 2–4 不能关注任何键。",
    },
    "learn.example.seed": {"en": "Random seed", "zh": "随机种子"},
    "learn.example.training": {
        "en": "Training mode (dropout on, as in the seed)",
        "zh": "训练模式（开启 dropout，同原文）",
    },
    "learn.example.tensor": {"en": "tensor", "zh": "张量"},
    "learn.example.shape": {"en": "shape", "zh": "形状"},
    "learn.example.meaning": {"en": "meaning", "zh": "含义"},
    "learn.example.query": {"en": "queries (batch, sequence, d_model)", "zh": "查询（批, 序列, d_model）"},
    "learn.example.key": {"en": "keys (batch, sequence, d_model)", "zh": "键（批, 序列, d_model）"},
    "learn.example.value": {"en": "values (batch, sequence, d_model)", "zh": "值（批, 序列, d_model）"},
    "learn.example.blocked": {"en": "the seed's mask, True = blocked", "zh": "原文的掩码，True = 屏蔽"},
    "learn.example.allow": {
        "en": "ours: allow = ~mask, True = may attend",
        "zh": "我们的：allow = ~mask，True = 可以关注",
    },
    "learn.example.out": {"en": "output (batch, sequence, d_model)", "zh": "输出（批, 序列, d_model）"},
    "learn.example.weights": {
        "en": "weights (batch, heads, queries, keys)",
        "zh": "权重（批, 头, 查询, 键）",
    },
    "learn.example.checks": {
        "en": "Batch item {item}, queries {rows}: the weights sum to **{blocked_sum}** and the output equals "
        "the bias of W^O: **{equals_bias}**. Every other row sums to 1 (largest deviation {deviation}). "
        "NaN anywhere: **{nan}**.",
        "zh": "第 {item} 个样本的查询 {rows}：权重之和为 **{blocked_sum}**，输出等于 W^O 的偏置："
        "**{equals_bias}**。其他每一行之和都是 1（最大偏差 {deviation}）。是否出现 NaN：**{nan}**。",
    },
    "learn.example.training_note": {
        "en": "With dropout on, the weights shown are those before dropout (they still sum to 1); the output "
        "uses the dropped ones, so it changes from run to run.",
        "zh": "开启 dropout 时，这里显示的是 dropout 之前的权重（和仍为 1）；输出使用的是 dropout "
        "之后的权重，所以每次运行都会不同。",
    },
    "learn.example.figure": {
        "en": "Batch item 0, head 0: rows 2–4 are blocked entirely",
        "zh": "第 0 个样本、第 0 个头：第 2–4 行整行被屏蔽",
    },
    "learn.example.yes": {"en": "yes", "zh": "是"},
    "learn.example.no": {"en": "no", "zh": "否"},
    "learn.exercises.title": {"en": "8 · Exercises", "zh": "8 · 练习"},
    "learn.exercises.focus": {"en": "layer {layer}, head {head}", "zh": "第 {layer} 层，第 {head} 个头"},
    "learn.exercises.intro": {
        "en": "Each button opens the Explorer with the text, the mask plan and the head in focus prepared. "
        "Use *Before / after* and *Effect* there.",
        "zh": "每个按钮都会打开 Explorer，并准备好文本、掩码计划和要观察的头。请在那里使用“Before / "
        "after”和“Effect”标签页。",
    },
}
