"""The Explorer's, the sidebar's, the painter's and the figures' words, in English and in Chinese.

Keys: ``explorer.*`` (the Explorer page), ``sidebar.*``, ``nav.*`` (page titles), ``painter.*`` (the grid
painter's toolbar and legend; templates in ``{n}``/``{total}`` are filled by painter.js), ``fig.*`` (axis
titles and hover names of the figures). Values as in ``text.py``.
"""

from __future__ import annotations

EXPLORER_STRINGS: dict[str, dict[str, str]] = {
    # -- navigation and sidebar
    "nav.explorer": {"en": "Explorer", "zh": "Explorer 探索"},
    "nav.mask_lab": {"en": "Mask Lab", "zh": "掩码实验室"},
    "nav.learn": {"en": "Learn", "zh": "学习"},
    "sidebar.model": {"en": "Model", "zh": "模型"},
    "sidebar.model.help": {
        "en": "The default model is bundled and works offline. Other models load from the Hugging Face hub "
        "or a local folder.",
        "zh": "默认模型随应用附带，可离线使用。其他模型从 Hugging Face hub 或本地文件夹加载。",
    },
    "sidebar.model.only": {
        "en": "This server serves only the bundled model.",
        "zh": "此服务器只提供随附的模型。",
    },
    "sidebar.custom": {
        "en": "Another model (hub id or local folder)…",
        "zh": "其他模型（hub id 或本地文件夹）…",
    },
    "sidebar.custom.input": {"en": "Hub id or folder", "zh": "Hub id 或文件夹"},
    "sidebar.device": {"en": "Device: {device}", "zh": "设备：{device}"},
    "sidebar.presentation": {"en": "Presentation mode", "zh": "演示模式"},
    "sidebar.presentation.help": {
        "en": "Larger fonts and a high-contrast colour scale for projectors.",
        "zh": "为投影仪准备：更大的字体和高对比度的色标。",
    },
    # -- the painter
    "painter.painted_legend": {"en": "painted", "zh": "手绘屏蔽"},
    "painter.rule": {"en": "blocked by a rule", "zh": "被规则屏蔽"},
    "painter.model": {"en": "blocked by the model", "zh": "被模型自身屏蔽"},
    "painter.focus": {"en": "focus", "zh": "焦点"},
    "painter.painted_part": {"en": "{n} painted", "zh": "手绘 {n}"},
    "painter.rule_part": {"en": "{n} by rules", "zh": "规则 {n}"},
    "painter.model_part": {"en": "{n} by the model", "zh": "模型 {n}"},
    "painter.undo": {"en": "↶ Undo", "zh": "↶ 撤销"},
    "painter.undo_help": {"en": "Undo the last change (Ctrl+Z)", "zh": "撤销上一次修改（Ctrl+Z）"},
    "painter.paint_tool": {"en": "✎ Paint", "zh": "✎ 涂色"},
    "painter.focus_tool": {"en": "◎ Focus", "zh": "◎ 聚焦"},
    "painter.zoom_fit": {"en": "Fit", "zh": "适应宽度"},
    "painter.waiting_one": {"en": "1 edit waiting for the server…", "zh": "1 次修改正在等待服务器…"},
    "painter.waiting": {"en": "{n} edits waiting for the server…", "zh": "{n} 次修改正在等待服务器…"},
    "painter.zoom_help": {
        "en": "Zoom (long texts): − and + change the cell size (keys - and +), Fit shows it all",
        "zh": "缩放（长文本）：− 和 + 改变格子大小（按键 - 和 +），“适应宽度”显示整个网格",
    },
    "painter.toggle_row": {"en": "click to toggle the row", "zh": "点击切换整行"},
    "painter.toggle_col": {"en": "click to toggle the column", "zh": "点击切换整列"},
    "painter.heads.row": {"en": "layer", "zh": "层"},
    "painter.heads.col": {"en": "head", "zh": "头"},
    "painter.heads.painted": {"en": "picked", "zh": "已选"},
    "painter.heads.marked": {"en": "gated", "zh": "已门控"},
    "painter.heads.count": {"en": "{n} of {total} picked", "zh": "{total} 个头中选了 {n} 个"},
    "painter.heads.hint": {
        "en": "click or drag over heads to pick them · shift-drag for a rectangle · click a layer or head "
        "label to toggle it everywhere",
        "zh": "点击或拖过头来选择 · 按住 shift 拖动选矩形 · 点击层或头的标签整行或整列切换",
    },
    # -- figures
    "overview.head_name": {"en": "layer {layer}, head {head}", "zh": "第 {layer} 层 · 第 {head} 个头"},
    "overview.weight": {"en": "weight", "zh": "权重"},
    "overview.marked": {"en": "has a mask or gate", "zh": "带有掩码或门控"},
    "overview.click": {"en": "click to focus", "zh": "点击以聚焦"},
    "overview.save": {"en": "Save", "zh": "保存"},
    "overview.pooled_max": {
        "en": "Long text: each cell shows the largest weight of {step} × {step} token pairs.",
        "zh": "长文本：每个格子显示 {step} × {step} 个词元对中的最大权重。",
    },
    "overview.pooled_mean": {
        "en": "Long text: each cell shows the mean weight of {step} × {step} token pairs.",
        "zh": "长文本：每个格子显示 {step} × {step} 个词元对的平均权重。",
    },
    "fig.query_axis": {"en": "query (attending)", "zh": "查询（发出关注）"},
    "fig.key_axis": {"en": "key (attended to)", "zh": "键（被关注）"},
    "fig.query": {"en": "query", "zh": "查询"},
    "fig.key": {"en": "key", "zh": "键"},
    "fig.weight": {"en": "weight", "zh": "权重"},
    "fig.painted": {"en": "blocked", "zh": "已屏蔽"},
    "fig.rule": {"en": "blocked by a rule", "zh": "被规则屏蔽"},
    "fig.model": {"en": "blocked by the model's own mask", "zh": "被模型自身的掩码屏蔽"},
    "fig.difference": {"en": "after − before", "zh": "之后 − 之前"},
    "fig.before": {"en": "before", "zh": "之前"},
    "fig.after": {"en": "after", "zh": "之后"},
    "fig.diff": {"en": "diff", "zh": "差"},
    "fig.row_sum": {"en": "row sum", "zh": "行和"},
    # -- the Explorer
    "explorer.title": {"en": "Explorer", "zh": "Explorer：探索注意力"},
    "explorer.link_problem": {
        "en": "Part of the link was ignored: {problem}",
        "zh": "链接的一部分被忽略：{problem}",
    },
    "explorer.text": {"en": "Text", "zh": "文本"},
    "explorer.text.help": {
        "en": "Every edit reruns the model on this text with your mask plan.",
        "zh": "每次修改都会用你的掩码计划在这段文本上重新运行模型。",
    },
    "explorer.examples": {"en": "Examples", "zh": "示例"},
    "explorer.examples.pick": {"en": "Pick an example…", "zh": "选一个示例…"},
    "explorer.text.empty": {
        "en": "The text is empty: type a sentence or pick an example.",
        "zh": "文本为空：请输入一句话或选一个示例。",
    },
    "explorer.running": {"en": "Running the model…", "zh": "正在运行模型…"},
    "explorer.cannot_run": {
        "en": "Cannot run this plan on this text: {error}",
        "zh": "无法在这段文本上运行这个计划：{error}",
    },
    "explorer.reset_bad": {"en": "Reset the plan", "zh": "重置计划"},
    "explorer.status": {
        "en": "{badge} · {tokens} tokens · {model} on `{device}` · {rules} rule(s)",
        "zh": "{badge} · {tokens} 个词元 · {model} 运行于 `{device}` · {rules} 条规则",
    },
    "explorer.unknown_tokens": {
        "en": "Many tokens are {unknown}: this model's vocabulary does not know these characters, so their "
        "attention says little. Try an English sentence, or a multilingual model in the sidebar.",
        "zh": "很多词元是 {unknown}：这个模型的词表不认识这些字符，所以它们的注意力说明不了什么。"
        "请试一句英文，或在侧边栏选一个多语言模型。",
    },
    "explorer.attention": {"en": "Attention", "zh": "注意力"},
    "explorer.stack.encoder": {"en": "Encoder self-attention", "zh": "编码器自注意力"},
    "explorer.stack.decoder": {"en": "Decoder self-attention", "zh": "解码器自注意力"},
    "explorer.stack.cross": {
        "en": "Cross-attention (decoder → encoder)",
        "zh": "交叉注意力（解码器 → 编码器）",
    },
    "explorer.layer": {"en": "Layer", "zh": "层"},
    "explorer.head": {"en": "Head", "zh": "头"},
    "explorer.scope": {"en": "Painting applies to", "zh": "涂色作用于"},
    "explorer.scope.head": {"en": "this head", "zh": "这个头"},
    "explorer.scope.layer": {"en": "this layer (all heads)", "zh": "这一层（所有头）"},
    "explorer.scope.chosen": {"en": "chosen heads", "zh": "选中的头"},
    "explorer.scope.all": {"en": "all layers and heads", "zh": "所有层和头"},
    "explorer.mask_of": {
        "en": "Mask of layer {layer} · head {head}",
        "zh": "第 {layer} 层 · 第 {head} 个头的掩码",
    },
    "explorer.painter.caption": {
        "en": "Striped cells are **blocked** (score −∞ before the softmax): grey ones you painted here; "
        "orange ones a preset or an imported rule blocks (remove the rule in *Plan & share* to free them); "
        "pale ones, striped the other way, the model's own mask blocks (a decoder's causality).",
        "zh": "带斜纹的格子表示**被屏蔽**（在 softmax 之前分数为 −∞）：灰色的是你在这里涂的；"
        "橙色的是预设或导入的规则屏蔽的（在“计划与分享”中删除该规则即可解除）；"
        "浅色、斜纹方向相反的是模型自身的掩码屏蔽的（解码器的因果性）。",
    },
    "explorer.undo": {"en": "Undo plan edit", "zh": "撤销计划修改"},
    "explorer.reset": {"en": "Reset plan", "zh": "重置计划"},
    "explorer.presets": {"en": "Presets", "zh": "预设"},
    "explorer.heads": {"en": "Heads: pick, focus, gate", "zh": "头：选择、聚焦、门控"},
    "explorer.preset": {"en": "Preset", "zh": "预设"},
    "explorer.preset.apply": {"en": "Apply preset", "zh": "应用预设"},
    "explorer.preset.full": {"en": "None (full)", "zh": "无（全部可见）"},
    "explorer.preset.desc.full": {"en": "Every query attends to every key.", "zh": "每个查询都关注所有键。"},
    "explorer.preset.desc.causal": {
        "en": "A query sees itself and earlier keys (decoders).",
        "zh": "查询只能看到自己和之前的键（解码器）。",
    },
    "explorer.preset.desc.sliding_window": {
        "en": "Keys within `size` positions of the query.",
        "zh": "距离查询不超过 `size` 个位置的键。",
    },
    "explorer.preset.desc.dilated": {
        "en": "Keys at distances that are multiples of `stride`.",
        "zh": "距离为 `stride` 倍数的键。",
    },
    "explorer.preset.desc.prefix_lm": {
        "en": "The prefix is seen by all; the rest is causal.",
        "zh": "前缀对所有位置可见；其余部分是因果的。",
    },
    "explorer.preset.desc.block_diagonal": {
        "en": "Packed segments attend only within themselves.",
        "zh": "打包在一起的各段只在段内互相关注。",
    },
    "explorer.preset.desc.global_tokens": {
        "en": "These tokens see and are seen by all; the rest follows the other masks.",
        "zh": "这些词元看到所有位置，也被所有位置看到；其余位置遵循其他掩码。",
    },
    "explorer.preset.desc.padding": {
        "en": "Only the first `length` keys are real tokens.",
        "zh": "只有前 `length` 个键是真实词元（其余是填充）。",
    },
    "explorer.preset.desc.random": {
        "en": "Each pair allowed with probability `density` (reproducible by seed).",
        "zh": "每一对以概率 `density` 被允许（由种子决定，可复现）。",
    },
    "explorer.gate": {"en": "Gate", "zh": "门控"},
    "explorer.gate.help": {
        "en": "Scales the chosen heads' outputs before the output projection; 0 ablates them.",
        "zh": "在输出投影之前按这个比例缩放选中头的输出；0 表示完全去掉它们。",
    },
    "explorer.gate.apply": {"en": "Gate chosen", "zh": "门控所选"},
    "explorer.gate.clear": {"en": "Ungate chosen", "zh": "取消门控"},
    "explorer.pick.clear": {"en": "Clear picks", "zh": "清除选择"},
    "explorer.heads.caption": {
        "en": "{n} head(s) chosen. Gated heads are outlined; the focused head is ringed.",
        "zh": "选中了 {n} 个头。被门控的头有橙色边框；聚焦的头有黑色圆框。",
    },
    "explorer.tab.overview": {"en": "Overview", "zh": "总览"},
    "explorer.tab.compare": {"en": "Before / after", "zh": "前后对比"},
    "explorer.tab.effect": {"en": "Effect", "zh": "影响"},
    "explorer.tab.plan": {"en": "Plan & share", "zh": "计划与分享"},
    "explorer.tab.heads": {"en": "Heads & edges", "zh": "头与边"},
    "explorer.overview.caption": {
        "en": "Click a head to focus it (black ring). Orange outlines: heads the plan masks or gates.",
        "zh": "点击一个头即可聚焦（黑框）。橙色边框：被计划屏蔽或门控的头。",
    },
    "explorer.view": {"en": "View", "zh": "视图"},
    "explorer.view.masked": {"en": "Masked", "zh": "加掩码"},
    "explorer.view.unmasked": {"en": "Unmasked", "zh": "无掩码"},
    "explorer.view.side": {"en": "Side by side", "zh": "并排"},
    "explorer.view.difference": {"en": "Difference", "zh": "差值"},
    "explorer.fig.head": {"en": "Layer {layer} · head {head}", "zh": "第 {layer} 层 · 第 {head} 个头"},
    "explorer.fig.masked": {"en": "masked", "zh": "加掩码"},
    "explorer.fig.unmasked": {"en": "unmasked", "zh": "无掩码"},
    "explorer.fig.difference": {"en": "masked − unmasked", "zh": "加掩码 − 无掩码"},
    "explorer.compare.caption": {
        "en": "Colour: weight from 0 (light) to 1 (dark), the same scale as the painter's; striped cells are "
        "blocked, in the painter's colours.",
        "zh": "颜色：权重从 0（浅）到 1（深），与绘制网格的色标相同；"
        "带斜纹的格子被屏蔽，颜色与绘制网格一致。",
    },
    "explorer.compare.caption_top": {
        "en": "Colour: weight from 0 (light) to {top} (dark), this head's largest weight before or after "
        "masking, the same scale as the painter's; striped cells are blocked, in the painter's colours.",
        "zh": "颜色：权重从 0（浅）到 {top}（深），即这个头在加掩码前后的最大权重，与绘制网格的色标相同；"
        "带斜纹的格子被屏蔽，颜色与绘制网格一致。",
    },
    "explorer.words": {"en": "Group tokens into words", "zh": "把词元合并成词"},
    "explorer.words.help": {
        "en": 'The painter shows one row and one column per word instead of per token ("international '
        '##ization" is one word). Painting a word pair blocks every token pair in it; an orange outline '
        "marks a word pair that is only partly blocked. The figures stay per token.",
        "zh": "绘制网格每个词一行一列，而不是每个词元一行一列（“international ##ization”是一个词）。"
        "涂一个词对会屏蔽其中所有的词元对；橙色边框表示该词对只被部分屏蔽。图仍按词元显示。",
    },
    "explorer.words.unavailable": {
        "en": "This model's tokenizer cannot say which tokens make a word (only fast tokenizers can), or the "
        "model has more than one attention.",
        "zh": "这个模型的分词器无法说明哪些词元组成一个词（只有 fast 分词器可以），"
        "或者模型有不止一种注意力。",
    },
    "painter.partial": {"en": "partly blocked", "zh": "部分屏蔽"},
    "explorer.contrast": {"en": "Colour to the largest weight", "zh": "按最大权重着色"},
    "explorer.contrast.help": {
        "en": "Over a long text attention spreads thin: every weight is small and on the fixed 0–1 scale the "
        "head looks blank. On, the painter and this head's figures colour from 0 to the head's largest "
        "weight, before or after masking (the legend and the colour bar say it). On by itself above 64 "
        "tokens.",
        "zh": "文本很长时注意力被摊薄：每个权重都很小，在固定的 0–1 色标上这个头几乎一片空白。"
        "打开后，绘制网格和这个头的图按 0 到该头（加掩码前后）的最大权重着色（图例和色条会标明）。"
        "超过 64 个词元时自动打开。",
    },
    "explorer.download_figure": {"en": "Download this figure (HTML)", "zh": "下载这张图（HTML）"},
    "explorer.effect.cosine": {
        "en": "Sentence embedding: cosine to unmasked",
        "zh": "句向量：与无掩码时的余弦相似度",
    },
    "explorer.effect.cosine.help": {
        "en": "Mean-pooled last hidden state, as sentence-transformers does. 1 = unchanged.",
        "zh": "最后一层隐藏状态的平均池化，与 sentence-transformers 相同。1 = 没有变化。",
    },
    "explorer.effect.kl": {
        "en": "KL(unmasked ‖ masked) of the predictions",
        "zh": "预测的 KL(无掩码 ‖ 加掩码)",
    },
    "explorer.effect.predictions": {
        "en": "Top predictions (causal LM: the next token; masked LM: the [MASK] positions; encoder–decoder: "
        "the decoder's next token).",
        "zh": "最可能的预测（因果语言模型：下一个词元；掩码语言模型：[MASK] 位置；"
        "编码器–解码器：解码器的下一个词元）。",
    },
    "explorer.effect.change": {
        "en": "Change of each token's last hidden state",
        "zh": "每个词元最后一层隐藏状态的变化",
    },
    "explorer.plan.empty": {
        "en": "The plan is empty: paint cells, apply a preset, or gate heads.",
        "zh": "计划为空：涂几个格子、应用一个预设或给头加门控。",
    },
    "explorer.plan.remove": {"en": "Remove this rule", "zh": "删除这条规则"},
    "explorer.plan.export": {"en": "Export plan (JSON)", "zh": "导出计划（JSON）"},
    "explorer.plan.export_npz": {"en": "Export attentions (.npz)", "zh": "导出注意力（.npz）"},
    "explorer.plan.import": {"en": "Import a plan (JSON file)", "zh": "导入计划（JSON 文件）"},
    "explorer.plan.paste": {"en": "…or paste plan JSON", "zh": "…或粘贴计划 JSON"},
    "explorer.plan.paste_apply": {"en": "Import pasted plan", "zh": "导入粘贴的计划"},
    "explorer.plan.json": {"en": "Plan JSON", "zh": "计划 JSON"},
    "explorer.plan.share": {
        "en": "Share: the address bar always holds the whole state (text, model, plan, focus). Copy it.",
        "zh": "分享：地址栏始终包含全部状态（文本、模型、计划、焦点），复制它即可。",
    },
    "explorer.plan.import_error": {
        "en": "Could not import {source}: {error}",
        "zh": "无法导入 {source}：{error}",
    },
    # ui/run_words.py: the run badge, the truncation note and the predictions table.
    "run.cached": {"en": "⚡ cached", "zh": "⚡ 已缓存"},
    "run.unmasked": {"en": "⚡ {ms} ms (unmasked run)", "zh": "⚡ {ms} 毫秒（无掩码运行）"},
    "run.partial": {
        "en": "⚡ {ms} ms (layers {first}–{last} recomputed)",
        "zh": "⚡ {ms} 毫秒（重算第 {first}–{last} 层）",
    },
    "run.forward": {"en": "⚡ {ms} ms forward", "zh": "⚡ {ms} 毫秒前向"},
    "run.why.model": {"en": "the model's maximum", "zh": "模型的上限"},
    "run.why.server": {"en": "this server's limit", "zh": "本服务器的限制"},
    "run.truncated": {
        "en": "The text is longer than {limit} tokens ({why}): its last {dropped} token(s) were dropped, and "
        "everything shown is for the first part.",
        "zh": "文本超过 {limit} 个词元（{why}）：最后 {dropped} 个词元已被丢弃，下面显示的都是前一部分。",
    },
    "run.col.position": {"en": "position", "zh": "位置"},
    "run.col.rank": {"en": "rank", "zh": "名次"},
    "run.col.unmasked": {"en": "unmasked", "zh": "无掩码"},
    "run.col.p_unmasked": {"en": "p (unmasked)", "zh": "概率（无掩码）"},
    "run.col.masked": {"en": "masked", "zh": "加掩码"},
    "run.col.p_masked": {"en": "p (masked)", "zh": "概率（加掩码）"},
    # ui/editing.describe_rule: one line per rule in the plan list.
    "rule.all_layers": {"en": "all layers", "zh": "所有层"},
    "rule.all_heads": {"en": "all heads", "zh": "所有头"},
    "rule.layers": {"en": "layer {list}", "zh": "第 {list} 层"},
    "rule.heads": {"en": "head {list}", "zh": "头 {list}"},
    "rule.key": {"en": "key {list}", "zh": "键 {list}"},
    "rule.keys": {"en": "keys {list}", "zh": "键 {list}"},
    "rule.query": {"en": "query {list}", "zh": "查询 {list}"},
    "rule.queries": {"en": "queries {list}", "zh": "查询 {list}"},
    "rule.more": {"en": " and {count} more", "zh": " 等另外 {count} 个"},
    "rule.cell": {"en": "1 cell", "zh": "1 个格子"},
    "rule.cells": {"en": "{count} cells", "zh": "{count} 个格子"},
    "rule.block": {"en": "block {what}", "zh": "屏蔽 {what}"},
    "rule.allow": {"en": "allow {preset}", "zh": "允许 {preset}"},
    "rule.gate": {"en": "gate × {gate}", "zh": "门控 × {gate}"},
    "rule.stack.encoder": {"en": "encoder", "zh": "编码器"},
    "rule.stack.decoder": {"en": "decoder self-attention", "zh": "解码器自注意力"},
    "rule.stack.cross": {"en": "cross-attention", "zh": "交叉注意力"},
    "explorer.text.cut": {
        "en": "The text was longer than {limit} characters (this server's limit): its last {dropped} "
        "character(s) were dropped.",
        "zh": "文本超过 {limit} 个字符（本服务器的限制）：最后 {dropped} 个字符已被丢弃。",
    },
    "explorer.refit": {
        "en": "The plan follows the tokens it was made on (**Undo plan edit** takes this back):",
        "zh": "计划跟随它当初所标注的词元移动（**撤销计划修改**可以还原）：",
    },
    "explorer.no_chosen": {
        "en": "No heads are chosen: pick heads in the head painter first. Painting changes nothing until "
        "then.",
        "zh": "还没有选中任何头：请先在头网格中挑选。在此之前涂色不会改变任何东西。",
    },
}
