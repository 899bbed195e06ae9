"""Per-line language from the characters read (the unified model does not choose a language first)."""

from polyocr.pipeline.language import line_language, page_languages, script_of


def test_scripts_decide_most_lines():
    assert line_language("The quick brown fox") == "en"
    assert line_language("Съешь же ещё этих мягких булок") == "ru"
    assert line_language("مرحبا بالعالم 2024") == "ar"
    assert line_language("שלום עולם") == "he"
    assert line_language("한국어 문장입니다") == "ko"
    assert line_language("日本語のテキスト") == "ja"
    assert line_language("12.50 — 3/4", default="ko") == "ko"


def test_simplified_and_traditional_by_national_standards():
    assert line_language("这是简体中文，国家说话") == "zh-Hans"
    assert line_language("這是繁體中文，國家說話") == "zh-Hant"
    assert script_of("中") == "han" and script_of("ア") == "kana" and script_of("1") == ""


def test_page_context_labels_ambiguous_lines():
    langs, main = page_languages(["東京は日本の首都です", "東京都", "2024年", "Tokyo"])
    assert main == "ja"
    assert langs == ["ja", "ja", "ja", "ja"]       # Han-only and Latin lines on a Japanese page
    langs, main = page_languages(["這是繁體中文的句子", "國家", "中文"])
    assert main == "zh-Hant" and set(langs) == {"zh-Hant"}


def test_stray_letters_of_another_script_take_the_page_language():
    texts = ["日本語の文章です。", "縦書きの段落が続きます。", "№о", "إ", "ログイン画面", "שלום עולם"]
    langs, main = page_languages(texts)
    assert main == "ja"
    assert langs[2] == langs[3] == "ja"      # two letters or fewer: a fragment, not a Russian or Arabic line
    assert langs[5] == "he"                  # a real line of another script keeps its own language


def test_hints_restrict_the_page_language():
    _, main = page_languages(["Hello world", "Привет"], hints=("ru",))
    assert main == "ru"


def test_a_japanese_form_with_few_kana_is_japanese():
    # labels and names are Han only; kana on a few lines (4-7 % of the letters on generated forms)
    form = ["担当者", "電話番号", "備考", "吉田 洋介", "株式会社吉田農林", "お客様名", "秋田県八丈島", "金額",
            "単価", "住所", "日付", "村上 零", "ご注文ありがとうございます", "部署", "数量", "合計"]
    langs, main = page_languages(form)
    assert main == "ja" and set(langs) == {"ja"}
    # a Chinese page with one stray kana misreading stays Chinese
    chinese = ["中国货币历史悠久", "早在新石器时代一些类型的货币就通用", "夏商时代中国使用天然海贝作为货币",
               "商代晚期墓中出土的铸造铜贝", "是世界上现存最早的金属铸币ノ"]
    langs, main = page_languages(chinese)
    assert main == "zh-Hans" and set(langs[:4]) == {"zh-Hans"}
    # kana on two lines of a long Chinese page are too little
    long_zh = chinese * 20 + ["あ", "い"]
    assert page_languages(long_zh)[1] == "zh-Hans"
