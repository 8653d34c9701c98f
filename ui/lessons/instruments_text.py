"""The Explorer's research instruments (sweeps, head types, figure downloads) in English and in Chinese.

Keys ``inst.*``; merged into ``ui.lessons.STRINGS``, so ``tr`` and the both-languages test cover them.
"""

from __future__ import annotations

INSTRUMENT_STRINGS: dict[str, dict[str, str]] = {
    "inst.kind": {"en": "Sweep", "zh": "扫描"},
    "inst.kind.head_importance": {"en": "Head importance", "zh": "注意力头重要性"},
    "inst.kind.attention_knockout": {"en": "Attention knockout", "zh": "注意力阻断"},
    "inst.kind.preset_sweep": {"en": "Preset parameter", "zh": "预设参数"},
    "inst.kind.head_importance.help": {
        "en": "Ablate each head, and each whole layer, on top of your plan and measure the change of the "
        "output: which heads matter for this text.",
        "zh": "在当前计划之上逐个消融每个头（以及每一整层），测量输出的变化：哪些头对这段文本重要。",
    },
    "inst.kind.attention_knockout.help": {
        "en": "Block the edges from the source tokens to the target token in a window of layers that slides "
        "from the first layer to the last (Geva et al. 2023): where the information flows.",
        "zh": "在一个从第一层滑动到最后一层的层窗口中，阻断源词元到目标词元的注意力边"
        "（Geva 等，2023）：信息在哪些层流动。",
    },
    "inst.kind.preset_sweep.help": {
        "en": "Apply one preset to the chosen heads and step its parameter through its values: an effect "
        "curve.",
        "zh": "对所选的头应用一个预设，并逐个取其参数的值：得到一条效果曲线。",
    },
    "inst.metric": {"en": "Metric", "zh": "度量"},
    "inst.metric.embedding_distance": {"en": "1 − cosine of the sentence embedding", "zh": "1 − 句向量余弦"},
    "inst.metric.kl": {"en": "KL of the prediction at a position", "zh": "某位置预测分布的 KL 散度"},
    "inst.metric.logit_difference": {"en": "Logit difference of two tokens", "zh": "两个词元的 logit 差"},
    "inst.position": {"en": "Position", "zh": "位置"},
    "inst.position_help": {
        "en": "The prediction read at this token (causal LM: of the next token).",
        "zh": "读取该词元处的预测（因果语言模型：下一个词元的预测）。",
    },
    "inst.token_a": {"en": "Token A", "zh": "词元 A"},
    "inst.token_b": {"en": "Token B", "zh": "词元 B"},
    "inst.ablation": {"en": "Ablation", "zh": "消融方式"},
    "inst.ablation.zero": {"en": "zero (gate 0)", "zh": "置零（门控 0）"},
    "inst.ablation.mean": {"en": "mean over positions", "zh": "按位置取均值"},
    "inst.whole_layers": {"en": "Whole layers too", "zh": "也消融整层"},
    "inst.sources": {"en": "Source tokens", "zh": "源词元"},
    "inst.target": {"en": "Target token", "zh": "目标词元"},
    "inst.target_help": {
        "en": "The query whose attention to the sources is blocked.",
        "zh": "其对源词元的注意力被阻断的查询词元。",
    },
    "inst.window": {"en": "Window (layers)", "zh": "窗口（层数）"},
    "inst.window_help": {
        "en": "How many consecutive layers each knockout blocks (the last windows are cut at the top).",
        "zh": "每次阻断连续多少层（最后几个窗口在顶层截断）。",
    },
    "inst.need_sources": {"en": "Choose at least one source token.", "zh": "请至少选择一个源词元。"},
    "inst.preset": {"en": "Preset · parameter", "zh": "预设 · 参数"},
    "inst.on_heads": {"en": "On", "zh": "作用于"},
    "inst.on_heads.all": {"en": "every head", "zh": "所有头"},
    "inst.on_heads.layer": {"en": "layer {layer}", "zh": "第 {layer} 层"},
    "inst.on_heads.head": {"en": "layer {layer} · head {head}", "zh": "第 {layer} 层 · 第 {head} 个头"},
    "inst.run": {"en": "Run sweep", "zh": "运行扫描"},
    "inst.stop": {"en": "Stop", "zh": "停止"},
    "inst.starting": {"en": "Starting…", "zh": "正在开始……"},
    "inst.progress": {"en": "{done} of {total} plans", "zh": "已完成 {done} / {total} 个计划"},
    "inst.stopped": {
        "en": "The sweep was stopped after {done} of {total} plans; nothing of it was kept.",
        "zh": "扫描在完成 {done} / {total} 个计划后被停止；其结果没有保留。",
    },
    "inst.stopped_early": {
        "en": "The sweep was stopped before its first batch of plans finished; nothing of it was kept.",
        "zh": "扫描在第一批计划完成之前被停止；其结果没有保留。",
    },
    "inst.failed": {"en": "Cannot run this sweep: {error}", "zh": "无法运行此扫描：{error}"},
    "inst.cached": {
        "en": "Result for this text, plan and settings (kept for every session; the same sweep again is "
        "instant).",
        "zh": "针对当前文本、计划和设置的结果（所有会话共享缓存；再次运行相同的扫描会立即完成）。",
    },
    "inst.earlier": {
        "en": "Shown: the last result, for an earlier plan or settings. Run the sweep to update it.",
        "zh": "显示的是上一次的结果（基于之前的计划或设置）。运行扫描以更新。",
    },
    "inst.effect": {"en": "Δ {metric}", "zh": "Δ {metric}"},
    "inst.first_layer": {"en": "first layer of the window", "zh": "窗口的起始层"},
    "inst.click": {
        "en": "Effect = the metric with the cell's edit minus the plan alone ({baseline}). Click a cell or a "
        "point to apply it to your plan (undo brings the plan back).",
        "zh": "效果 = 加上该单元编辑后的度量减去仅当前计划时的度量（{baseline}）。"
        "点击单元格或数据点即可将其应用到计划中（撤销可恢复）。",
    },
    "inst.click_mean": {
        "en": "Effect = the metric with the head mean-ablated minus the plan alone ({baseline}). Mean "
        "ablation is not part of a mask plan, so its cells cannot be applied: run the zero ablation "
        "for that.",
        "zh": "效果 = 将该头做均值消融后的度量减去仅当前计划时的度量（{baseline}）。均值消融不属于掩码计划，"
        "无法应用；若要应用，请运行置零消融。",
    },
    "inst.strongest": {"en": "Largest effects", "zh": "效果最大的单元"},
    "inst.apply": {"en": "Apply", "zh": "应用"},
    "inst.csv": {"en": "Download CSV", "zh": "下载 CSV"},
    "inst.json": {"en": "Download JSON", "zh": "下载 JSON"},
    "inst.single_stack": {
        "en": "Sweeps and head types are measured on models with one attention stack (encoders and "
        "decoder-only LMs).",
        "zh": "扫描和头类型只适用于只有一个注意力栈的模型（编码器和仅解码器语言模型）。",
    },
    "inst.format": {"en": "Figure downloads", "zh": "图片下载格式"},
    "inst.format_help": {
        "en": "What the camera button of every figure saves: PNG at {scale}× the screen size, for papers, "
        "or SVG (vector).",
        "zh": "每张图的相机按钮保存的格式：PNG（屏幕尺寸的 {scale} 倍，适合论文）或 SVG（矢量图）。",
    },
    "inst.types": {"en": "Head types", "zh": "头类型"},
    "inst.types_help": {
        "en": "Score every head for each type in [0, 1], under your plan (two runs: the text and a repeated "
        "random-token probe for induction and duplicate-token).",
        "zh": "在当前计划下为每个头的每种类型打分（0 到 1；运行两次：文本本身，以及用于归纳头和重复词元头的"
        "重复随机词元探针）。",
    },
    "inst.types_filter": {"en": "Show the heads of type", "zh": "显示此类型的头"},
    "inst.types_threshold": {"en": "Score at least", "zh": "分数至少为"},
    "inst.types_caption": {
        "en": "{count} head(s) score at least {threshold} as {type} (dotted green outline). Tile labels: "
        "each head's strongest type.",
        "zh": "{count} 个头的“{type}”分数至少为 {threshold}（绿色虚线框）。"
        "格子上的标签：每个头得分最高的类型。",
    },
    "inst.types_moved": {
        "en": "Your plan moved the {type} score most in: {heads}.",
        "zh": "你的计划对“{type}”分数改变最大的头：{heads}。",
    },
    "inst.types_unavailable": {
        "en": "No head types for this text: {error}",
        "zh": "无法为此文本计算头类型：{error}",
    },
    "inst.type.previous_token": {"en": "previous token", "zh": "前一词元"},
    "inst.type.next_token": {"en": "next token", "zh": "后一词元"},
    "inst.type.self_token": {"en": "self", "zh": "自身"},
    "inst.type.first_token": {"en": "first token / [CLS] sink", "zh": "首词元 / [CLS] 汇聚"},
    "inst.type.delimiter": {"en": "[SEP] / delimiter", "zh": "[SEP] / 分隔符"},
    "inst.type.broad": {"en": "broad (entropy)", "zh": "广泛（熵）"},
    "inst.type.duplicate_token": {"en": "duplicate token", "zh": "重复词元"},
    "inst.type.induction": {"en": "induction", "zh": "归纳"},
}
