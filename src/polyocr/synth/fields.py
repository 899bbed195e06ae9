"""Structured snippets for the document generator, and mixing them into prose.

* :meth:`TextSource.field <polyocr.synth.text.TextSource.field>` kinds (``FIELD_KINDS``): dates, times,
  prices, numbers, percents, phones, URLs, e-mails, code, identifiers, names, addresses, companies,
  titles, form keys and document numbers, each in its language's conventions, from small per-language
  format tables and Faker (with hand-written fallbacks when Faker's output does not fit the charset);
* :func:`mix_content`: what real documents mix into prose (Latin words, brands, acronyms, numbers,
  dates, prices, URLs, code identifiers), inserted at natural positions.

Everything returned is NFC and only uses the allowed characters (see :mod:`polyocr.synth.charsets`).
Every function takes an explicit ``numpy.random.Generator``; nothing touches global random state (Faker is
seeded per call through ``seed_instance``, which gives each cached Faker its own ``random.Random``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from polyocr.languages import Language, get_language
from polyocr.synth.charsets import _CJK, _LATIN, _ascii_alnum, _default_allowed, _fits, _sanitize

if TYPE_CHECKING:
    from polyocr.synth.text import TextSource

__all__ = ["mix_content", "FIELD_KINDS"]

FIELD_KINDS = ("date", "time", "price", "number", "percent", "phone", "url", "email", "code", "name",
               "address", "company", "title", "key", "id")


# --------------------------------------------------------------------------------------------- Faker

@functools.lru_cache(maxsize=None)
def _faker(locale: str) -> Any:
    """One Faker per locale; its own random.Random is created by the first seed_instance call."""
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(0)  # detach from Faker's shared module-level Random right away
    return fake


# --------------------------------------------------------------------------------------------- formats

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_MONTHS_RU = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
              "октября", "ноября", "декабря")
_MONTHS_AR = ("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر",
              "نوفمبر", "ديسمبر")
_MONTHS_HE = ("ינואר", "פברואר", "מרץ", "אפריל", "מאי", "יוני", "יולי", "אוגוסט", "ספטמבר", "אוקטובר",
              "נובמבר", "דצמבר")
_AR_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

_KEYS: dict[str, tuple[str, ...]] = {
    "en": ("Name", "Date", "Total", "Address", "Phone", "Email", "Invoice No.", "Amount", "Description",
           "Quantity", "Unit Price", "Subtotal", "Tax", "Signature", "Customer", "Due Date", "Account",
           "Reference", "Notes", "Item", "Department", "Date of Birth", "Order No.", "Balance Due"),
    "zh-Hans": ("姓名", "日期", "合计", "地址", "电话", "邮箱", "发票号码", "金额", "说明", "数量", "单价", "小计",
                "税额", "签名", "客户", "备注", "编号", "总计", "部门", "出生日期", "订单号", "联系人"),
    "zh-Hant": ("姓名", "日期", "合計", "地址", "電話", "電子郵件", "發票號碼", "金額", "說明", "數量", "單價",
                "小計", "稅額", "簽名", "客戶", "備註", "編號", "總計", "部門", "出生日期", "訂單編號", "聯絡人"),
    "ja": ("氏名", "日付", "合計", "住所", "電話番号", "メール", "請求書番号", "金額", "摘要", "数量", "単価",
           "小計", "消費税", "署名", "お客様名", "備考", "番号", "部署", "生年月日", "注文番号", "担当者"),
    "ko": ("성명", "이름", "날짜", "합계", "주소", "전화번호", "이메일", "청구서 번호", "금액", "내용", "수량",
           "단가", "소계", "세액", "서명", "고객", "비고", "번호", "부서", "생년월일", "주문 번호", "담당자"),
    "ru": ("Имя", "Фамилия", "Дата", "Итого", "Адрес", "Телефон", "Эл. почта", "Номер счёта", "Сумма",
           "Описание", "Количество", "Цена", "Подпись", "Клиент", "Примечание", "НДС", "Отдел",
           "Дата рождения", "Номер заказа", "Всего к оплате"),
    "ar": ("الاسم", "التاريخ", "المجموع", "العنوان", "الهاتف", "البريد الإلكتروني", "رقم الفاتورة", "المبلغ",
           "الوصف", "الكمية", "سعر الوحدة", "الضريبة", "التوقيع", "العميل", "ملاحظات", "الإجمالي", "القسم",
           "تاريخ الميلاد", "رقم الطلب"),
    "he": ("שם", "תאריך", "סה״כ", "כתובת", "טלפון", "דוא״ל", "מספר חשבונית", "סכום", "תיאור", "כמות",
           "מחיר ליחידה", "מע״מ", "חתימה", "לקוח", "הערות", "מחלקה", "תאריך לידה", "מספר הזמנה"),
}

_CODE_WORDS = ("data", "user", "count", "value", "index", "name", "path", "file", "config", "result", "items",
               "total", "buffer", "size", "key", "node", "list", "cache", "token", "page", "query", "model",
               "input", "output", "text", "line", "image", "width", "height", "offset", "limit", "status",
               "error", "request", "response", "client", "server", "event", "handler", "score", "batch")
_CODE_VERBS = ("get", "set", "load", "save", "parse", "read", "write", "update", "build", "run", "make",
               "check", "find", "render", "fetch", "init", "compute", "process", "create", "delete")
_PACKAGES = ("numpy", "requests", "flask", "pandas", "torch", "react", "lodash", "express", "django", "scipy",
             "pytest", "pillow", "axios", "webpack", "redis", "boto3", "fastapi", "typescript", "opencv-python")
_BRANDS = ("iPhone", "Google", "Microsoft", "Amazon", "Apple", "Samsung", "Sony", "Toyota", "Tesla",
           "Netflix", "YouTube", "Facebook", "Twitter", "Windows", "Android", "Excel", "Python", "Linux",
           "Wi-Fi", "Bluetooth", "GitHub", "Intel", "NVIDIA", "Adobe", "Zoom", "ChatGPT", "PlayStation",
           "Nintendo", "BMW", "Visa", "PayPal", "Uber", "Spotify", "Wikipedia", "LINE", "TikTok")
_ACRONYMS = ("AI", "GPU", "CPU", "USB", "PDF", "API", "GDP", "CEO", "NASA", "COVID-19", "5G", "LED", "DNA",
             "SNS", "IT", "OS", "PC", "TV", "UN", "EU", "WHO", "NATO", "IMF", "OECD", "GPS", "HTML", "SQL",
             "URL", "QR", "ID", "OK", "VR", "IoT", "FAQ", "PR", "HR", "R&D", "B2B", "ISO 9001", "M&A")

# Small hand-written name pieces, used only when Faker's output does not fit the charset.
_SIMPLE_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "en": (("James", "Mary", "Robert", "Linda", "David", "Susan", "Emily", "Daniel"),
           ("Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Clark", "Lewis"), "{g} {f}"),
    "zh-Hans": (("伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "军"),
                ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"), "{f}{g}"),
    "zh-Hant": (("志明", "淑芬", "家豪", "雅婷", "俊傑", "美玲", "建華", "怡君"),
                ("王", "李", "張", "劉", "陳", "林", "黃", "吳", "蔡", "楊"), "{f}{g}"),
    "ja": (("太郎", "花子", "健", "美咲", "翔太", "陽子", "大輔", "直美"),
           ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村"), "{f} {g}"),
    "ko": (("민준", "서연", "지훈", "하은", "도윤", "수빈", "현우", "지민"),
           ("김", "이", "박", "최", "정", "강", "조", "윤"), "{f}{g}"),
    "ru": (("Алексей", "Мария", "Иван", "Ольга", "Дмитрий", "Анна", "Сергей", "Елена"),
           ("Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Новиков"), "{g} {f}"),
    "ar": (("محمد", "أحمد", "فاطمة", "علي", "مريم", "خالد", "سارة", "يوسف"),
           ("العلي", "الحسن", "القحطاني", "الشمري", "المصري", "الخطيب", "النجار", "الزهراني"), "{g} {f}"),
    "he": (("דוד", "שרה", "יוסף", "מיכל", "אברהם", "רחל", "יונתן", "נועה"),
           ("כהן", "לוי", "מזרחי", "פרץ", "ביטון", "אברהם", "פרידמן", "שפירא"), "{g} {f}"),
}
_AR_CITIES = ("الرياض", "جدة", "مكة المكرمة", "الدمام", "دبي", "أبوظبي", "الدوحة", "الكويت", "المنامة", "مسقط",
              "عمان", "القاهرة", "الإسكندرية", "بيروت", "الدار البيضاء", "تونس", "الشارقة", "المدينة المنورة")
_AR_COMPANY = ("شركة {n}", "شركة {n} للتجارة", "مؤسسة {n} للمقاولات", "مجموعة {n} القابضة", "{n} وشركاه",
               "مصنع {n} للأغذية", "شركة {n} للتقنية", "مكتب {n} للمحاماة", "شركة {n} للنقل")
_SIMPLE_PLACES: dict[str, tuple[str, ...]] = {
    "en": ("12 Main Street, Springfield", "450 Oak Avenue, Portland", "8 High Street, Oxford"),
    "zh-Hans": ("北京市海淀区中关村大街1号", "上海市浦东新区世纪大道100号", "广州市天河区体育西路18号"),
    "zh-Hant": ("台北市中正區重慶南路一段122號", "台中市西區民生路10號", "高雄市前金區中正四路211號"),
    "ja": ("東京都千代田区丸の内1丁目1番1号", "大阪府大阪市北区梅田3丁目1番3号", "京都府京都市中京区1番地"),
    "ko": ("서울특별시 중구 세종대로 110", "부산광역시 해운대구 센텀로 35", "대구광역시 중구 동성로 12"),
    "ru": ("г. Москва, ул. Тверская, д. 7", "г. Казань, ул. Баумана, д. 19", "г. Томск, пр. Ленина, д. 36"),
    "ar": ("شارع الملك فهد، الرياض", "شارع الجامعة، عمان", "طريق الكورنيش، جدة"),
    "he": ("רחוב הרצל 12, תל אביב", "שדרות רוטשילד 45, תל אביב", "רחוב יפו 97, ירושלים"),
}
_SIMPLE_COMPANIES: dict[str, tuple[str, ...]] = {
    "en": ("Acme Corp.", "Northwind Traders", "Blue River Ltd."),
    "zh-Hans": ("华信科技有限公司", "东方贸易有限公司", "新星电子有限公司"),
    "zh-Hant": ("華信科技有限公司", "東方貿易有限公司", "新星電子股份有限公司"),
    "ja": ("株式会社山田商事", "東和電機株式会社", "有限会社青空"),
    "ko": ("(주) 한빛", "대한상사", "(주) 미래전자"),
    "ru": ("ООО «Ромашка»", "АО «Север»", "ЗАО «Вектор»"),
    "ar": ("شركة النور للتجارة", "مجموعة الخليج القابضة", "مؤسسة الأمل"),
    "he": ("אלון מערכות בע״מ", "כהן ושות׳", "גל תעשיות בע״מ"),
}


def _group(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


def _decimal(rng: np.random.Generator, lo: float, hi: float, decimals: int) -> float:
    """Log-uniform amount in [lo, hi): small values are commoner on real documents."""
    return round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), decimals)


class _Fields:
    """Formatted snippets for one language; shared by TextSource.field and mix_content."""

    def __init__(self, lang: str, allowed: frozenset[str]):
        self.lang = lang
        self.language: Language = get_language(lang)
        self.allowed = allowed

    # -- helpers
    def _ok(self, s: str) -> bool:
        return _fits(s, self.allowed)

    def _pick(self, rng: np.random.Generator, options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))]

    def _ar_digits(self, rng: np.random.Generator, s: str, p: float = 0.3) -> str:
        """Arabic text uses Western digits mostly, Arabic-Indic ones sometimes."""
        if self.lang == "ar" and rng.random() < p and "٠" in self.allowed:
            return s.translate(_AR_DIGITS)
        return s

    def _amount(self, rng: np.random.Generator, decimals: int | None = None) -> tuple[float, int]:
        if decimals is None:
            decimals = 2 if rng.random() < 0.6 else 0
        return _decimal(rng, 0.5, 250000.0, decimals), decimals

    def _num_str(self, x: float, decimals: int) -> str:
        """Locale number format: ru '1 234,50', others '1,234.50'."""
        whole = int(x)
        frac = f"{x:.{decimals}f}".split(".")[1] if decimals else ""
        if self.lang == "ru":
            s = _group(whole, " ") if whole >= 10000 else str(whole)
            return s + ("," + frac if frac else "")
        return _group(whole, ",") + ("." + frac if frac else "")

    # -- kinds
    def date(self, rng: np.random.Generator) -> str:
        y = int(rng.integers(1990, 2031)) if rng.random() < 0.4 else int(rng.integers(2015, 2027))
        m = int(rng.integers(1, 13))
        d = int(rng.integers(1, 29))
        v = int(rng.integers(4))
        lang = self.lang
        if lang == "en":
            opts = [f"{_MONTHS_EN[m - 1]} {d}, {y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}",
                    f"{d} {_MONTHS_EN[m - 1][:3]} {y}"]
            if v == 3 and rng.random() < 0.5:
                return f"{m:02d}/{d:02d}/{y}"
        elif lang in ("zh-Hans", "zh-Hant"):
            roc = f"民國{y - 1911}年{m}月{d}日" if lang == "zh-Hant" else f"{y}/{m}/{d}"
            opts = [f"{y}年{m}月{d}日", f"{y}-{m:02d}-{d:02d}", f"{y}年{m:02d}月{d:02d}日", roc]
        elif lang == "ja":
            era = f"令和{y - 2018}年{m}月{d}日" if y >= 2019 else f"平成{y - 1988}年{m}月{d}日"
            opts = [f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}", era, f"{y}年{m:02d}月{d:02d}日"]
        elif lang == "ko":
            opts = [f"{y}년 {m}월 {d}일", f"{y}. {m}. {d}.", f"{y}-{m:02d}-{d:02d}", f"{y}.{m:02d}.{d:02d}"]
        elif lang == "ru":
            opts = [f"{d} {_MONTHS_RU[m - 1]} {y} г.", f"{d:02d}.{m:02d}.{y}", f"{d} {_MONTHS_RU[m - 1]} {y} года",
                    f"«{d}» {_MONTHS_RU[m - 1]} {y} г."]
        elif lang == "ar":
            opts = [f"{d:02d}/{m:02d}/{y}", f"{d} {_MONTHS_AR[m - 1]} {y}", f"{y}/{m:02d}/{d:02d}",
                    f"{d}-{m}-{y}"]
            return self._ar_digits(rng, opts[v], 0.35)
        else:  # he
            opts = [f"{d:02d}.{m:02d}.{y}", f"{d} ב{_MONTHS_HE[m - 1]} {y}", f"{d}/{m}/{y}",
                    f"{d:02d}/{m:02d}/{y}"]
        return opts[v]

    def time(self, rng: np.random.Generator) -> str:
        h = int(rng.integers(0, 24))
        mi = int(rng.integers(0, 60))
        h12 = h % 12 or 12
        v = int(rng.integers(3))
        lang = self.lang
        base = f"{h:02d}:{mi:02d}" if rng.random() < 0.7 else f"{h}:{mi:02d}"
        if v == 0:
            return self._ar_digits(rng, base, 0.2)
        if lang == "en":
            if v == 1:
                return f"{h12}:{mi:02d} {'AM' if h < 12 else 'PM'}"
            return f"{h:02d}:{mi:02d}:{int(rng.integers(60)):02d}"
        if lang == "zh-Hans":
            return f"{h}点{mi:02d}分" if v == 1 else f"{'上午' if h < 12 else '下午'}{h12}:{mi:02d}"
        if lang == "zh-Hant":
            return f"{h}時{mi:02d}分" if v == 1 else f"{'上午' if h < 12 else '下午'}{h12}:{mi:02d}"
        if lang == "ja":
            return f"{h}時{mi:02d}分" if v == 1 else f"{'午前' if h < 12 else '午後'}{h12}時{mi}分"
        if lang == "ko":
            return f"{'오전' if h < 12 else '오후'} {h12}시 {mi}분" if v == 1 else f"{h}시 {mi:02d}분"
        if lang == "ru":
            return f"{h} ч {mi:02d} мин" if v == 1 else f"{h}:{mi:02d}"
        if lang == "ar":
            return self._ar_digits(rng, f"{h12}:{mi:02d} {'ص' if h < 12 else 'م'}", 0.4)
        return f"{h:02d}:{mi:02d}"  # he

    def price(self, rng: np.random.Generator) -> str:
        lang = self.lang
        if lang in ("ja", "ko"):
            x, dec = self._amount(rng, 0)
            x = round(x / 10) * 10 if x > 100 else x
        else:
            x, dec = self._amount(rng)
        s = self._num_str(x, dec)
        v = int(rng.integers(3))
        if lang == "en":
            sym = self._pick(rng, ["$", "$", "€", "£"])
            return f"{sym}{s}" if v else f"USD {s}"
        if lang == "zh-Hans":
            return (f"¥{s}", f"{s}元", f"人民币{s}元")[v]
        if lang == "zh-Hant":
            return (f"NT${s}", f"{s}元", f"新臺幣{s}元")[v]
        if lang == "ja":
            return (f"¥{s}", f"{s}円", f"税込{s}円")[v]
        if lang == "ko":
            won = f"₩{s}" if "₩" in self.allowed else f"{s}원"
            return (won, f"{s}원", f"${self._num_str(*self._amount(rng, 2))}")[v]
        if lang == "ru":
            rub = f"{s} ₽" if "₽" in self.allowed else f"{s} руб."
            return (rub, f"{s} руб.", f"${self._num_str(*self._amount(rng, 2))}")[v]
        if lang == "ar":
            if v == 2:
                return f"${s}"
            cur = self._pick(rng, ["ر.س", "د.إ", "ج.م", "د.ك"])
            if dec == 0 and rng.random() < 0.25 and "٠" in self.allowed:
                s = str(int(x)).translate(_AR_DIGITS)  # Arabic-Indic digits, no Western grouping comma
            return f"{s} {cur}"
        # he
        shekel = "₪" if "₪" in self.allowed else "ש״ח"
        return (f"{s} {shekel}" if shekel != "₪" else f"₪{s}", f"{s} ש״ח", f"${s}")[v]

    def number(self, rng: np.random.Generator) -> str:
        v = rng.random()
        if v < 0.45:
            n = int(np.exp(rng.uniform(0, np.log(100000))))
            s = str(n) if rng.random() < 0.5 else self._num_str(n, 0)
        elif v < 0.8:
            s = self._num_str(*self._amount(rng, int(rng.integers(1, 4))))
        else:
            s = str(int(rng.integers(1, 1000)))
        if self.lang == "ar" and all(c.isdigit() for c in s):
            s = self._ar_digits(rng, s, 0.3)
        return s

    def percent(self, rng: np.random.Generator) -> str:
        x = round(float(rng.uniform(0, 100)), int(rng.integers(0, 3)))
        s = f"{x:g}" if x == int(x) else f"{x}"
        if self.lang == "ru":
            s = s.replace(".", ",")
            return f"{s}%" if rng.random() < 0.6 else f"{s} %"
        if self.lang == "ar" and rng.random() < 0.35 and "٪" in self.allowed:
            return f"{int(x)}".translate(_AR_DIGITS) + "٪"
        if self.lang in ("zh-Hans", "zh-Hant") and rng.random() < 0.15:
            return f"{s}％" if "％" in self.allowed else f"{s}%"
        return f"{s}%"

    def _faker_try(self, rng: np.random.Generator, make: Any, tries: int = 8, latin: bool = True) -> str | None:
        """Faker output that fits the charset (retried with fresh seeds), else None."""
        fake = _faker(self.language.faker)
        for _ in range(tries):
            fake.seed_instance(int(rng.integers(2**31)))
            s = " ".join(str(make(fake)).replace("\n", ", ").split())
            s = unicodedata.normalize("NFC", s)
            if self._ok(s) and (latin or not _LATIN.search(s)):
                return s
        return None

    def phone(self, rng: np.random.Generator) -> str:
        if self.lang == "ar":
            d = lambda k: "".join(str(int(c)) for c in rng.integers(0, 10, k))  # noqa: E731
            opts = [f"+966 5{d(1)} {d(3)} {d(4)}", f"05{d(1)} {d(3)} {d(4)}", f"+971 4 {d(3)} {d(4)}",
                    f"+20 10 {d(4)} {d(4)}", f"0{d(2)}-{d(3)}-{d(4)}"]
            return self._ar_digits(rng, self._pick(rng, opts), 0.15)
        s = self._faker_try(rng, lambda f: f.phone_number())
        return s if s else f"+1 555 {int(rng.integers(100, 1000))} {int(rng.integers(1000, 10000))}"

    def url(self, rng: np.random.Generator) -> str:
        s = self._faker_try(rng, lambda f: f.url() + (f.uri_path() if rng.random() < 0.4 else ""))
        return s or "https://www.example.com/"

    def email(self, rng: np.random.Generator) -> str:
        if rng.random() < 0.5:
            s = self._faker_try(rng, lambda f: f"{f.user_name()}@{f.free_email_domain()}")
        else:
            s = self._faker_try(rng, lambda f: f.company_email() if rng.random() < 0.5 else f.email())
        return s or "info@example.com"

    def identifier(self, rng: np.random.Generator) -> str:
        a, b = self._pick(rng, _CODE_VERBS), self._pick(rng, _CODE_WORDS)
        v = int(rng.integers(5))
        if v == 0:
            return f"{a}_{b}"
        if v == 1:
            return f"{a}{b.capitalize()}"
        if v == 2:
            return f"{b.upper()}_{self._pick(rng, _CODE_WORDS).upper()}"
        if v == 3:
            return f"{a}_{b}()"
        return f"{b}.{a}()"

    def code(self, rng: np.random.Generator) -> str:
        ident = self.identifier(rng).rstrip("()")
        w, w2 = self._pick(rng, _CODE_WORDS), self._pick(rng, _CODE_WORDS)
        f = f"{self._pick(rng, _CODE_VERBS)}_{w}"
        n = int(rng.integers(0, 100))
        pkg = self._pick(rng, _PACKAGES)
        templates = (
            f"{w} = {f}({n})", f"pip install {pkg}", f"npm install {pkg}", f"import {pkg.split('-')[0]}",
            f"def {f}({w}, {w2}=None):", f"return {w} + {n}", f"for i in range({n}):", f"if {w} is None:",
            f"SELECT * FROM {w}s WHERE id = {n};", f"git checkout -b fix-{w}", f"print({w}[{n % 10}])",
            f"const {ident} = {n};", f"$ cd /var/{w}/{w2}", f"docker run -p 8080:80 {pkg}",
            f"{w}.{f}()", ident, f"{w}_{w2}", f"#include <{w}.h>", f"{ident}({w}, {n})",
            f"git commit -m \"fix {w}\"", f"curl -s https://api.example.com/{w}",
        )
        return self._pick(rng, templates)

    def name(self, rng: np.random.Generator) -> str:
        lang = self.lang
        if lang == "ar":
            s = self._faker_try(rng, lambda f: f.name() if rng.random() < 0.3 else f"{f.first_name()} {f.last_name()}",
                                latin=False)
        else:
            s = self._faker_try(rng, lambda f: f.name(), latin=lang == "en")
        if s:
            return s
        given, family, fmt = _SIMPLE_NAMES[lang]
        return fmt.format(g=self._pick(rng, given), f=self._pick(rng, family))

    def address(self, rng: np.random.Generator) -> str:
        lang = self.lang
        if lang == "ar":
            s = self._faker_try(rng, lambda f: f"{self._pick(rng, ['شارع', 'طريق', 'حي'])} {f.first_name()}، "
                                              f"{self._pick(rng, ['مبنى ', 'رقم ', ''])}{int(rng.integers(1, 400))}، "
                                              f"{self._pick(rng, _AR_CITIES)}")
            if s:
                return self._ar_digits(rng, s, 0.2)
        else:
            s = self._faker_try(rng, lambda f: f.address(), latin=lang not in ("he", "ru"))
            if s:
                return s
        return self._pick(rng, _SIMPLE_PLACES[lang])

    def company(self, rng: np.random.Generator) -> str:
        lang = self.lang
        if lang == "ar":
            s = self._faker_try(rng, lambda f: self._pick(rng, _AR_COMPANY).format(n=f.last_name()))
        elif lang == "he":
            def heb(f: Any) -> str:
                c = f.company().replace(" and ", " ו")
                return c + (" בע״מ" if rng.random() < 0.4 else "")
            s = self._faker_try(rng, heb, latin=False)
        else:
            s = self._faker_try(rng, lambda f: f.company())
        return s or self._pick(rng, _SIMPLE_COMPANIES[lang])

    def key(self, rng: np.random.Generator) -> str:
        k = self._pick(rng, _KEYS[self.lang])
        r = rng.random()
        if r < 0.45:
            return k
        if self.lang in _CJK:
            return k + ("：" if r < 0.85 and "：" in self.allowed else ":")
        return k + ":"

    def id(self, rng: np.random.Generator) -> str:
        y = int(rng.integers(2015, 2027))
        n = int(rng.integers(1, 100000))
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        alnum = letters + "0123456789"
        code6 = "".join(alnum[int(i)] for i in rng.integers(0, len(alnum), 6))
        generic = [f"INV-{y}-{n % 10000:04d}", f"No. {n:05d}", f"PO-{n}", f"#{code6}",
                   f"ORD-{y}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}-{n % 1000:03d}",
                   f"{letters[int(rng.integers(len(letters)))]}{letters[int(rng.integers(len(letters)))]}{n:06d}"]
        local = {
            "zh-Hans": [f"第{y}-{n % 1000:03d}号", f"NO.{n:08d}"],
            "zh-Hant": [f"第{y}-{n % 1000:03d}號", f"NO.{n:08d}"],
            "ja": [f"第{n % 1000}号", f"No.{n:06d}"],
            "ko": [f"제{y}-{n % 1000}호", f"No.{n:06d}"],
            "ru": [f"№ {n}", f"№ {y}/{n % 1000:03d}"],
            "ar": [f"رقم {n}", f"{n}/{y}"],
            "he": [f"מס׳ {n}", f"{y}/{n % 1000:04d}"],
        }.get(self.lang, [])
        opts = generic + local * 2
        return self._pick(rng, opts)


@functools.lru_cache(maxsize=None)
def _fields_for(lang: str, allowed: frozenset[str]) -> _Fields:
    return _Fields(lang, allowed)


# --------------------------------------------------------------------------------------------- titles

def _title(source: TextSource, rng: np.random.Generator) -> str:
    """A short heading: the start of a sentence cut at a word boundary (fallback: a few content
    words, as generated sentences start with function words), sometimes numbered."""
    t = ""
    for _ in range(0 if source.mode == "fallback" else 6):
        s = source.sentence(rng)
        if source.cjk:
            m = re.search(r"[，。、；：！？,.;:!?（(「『“]", s)
            head = s[:m.start()] if m else s
            limit = int(rng.integers(4, 13))
            t = head if len(head) <= limit else source._cut(head, limit)
        else:
            toks = [w for w in s.split(" ") if w.strip(source._punct)]
            k = int(rng.integers(2, 7))
            t = " ".join(toks[:k])
            t = t.rstrip(source._punct + " ")
            t = t.lstrip(source._punct + " ")
            if source.lang in ("en", "ru") and t:
                t = t[0].upper() + t[1:]
            if source.lang == "en" and rng.random() < 0.3:
                t = " ".join(w[:1].upper() + w[1:] for w in t.split(" "))
        t = t.strip()
        if t and (len(t) >= 2 or source.cjk):
            break
    if not t:
        ws = source.words(rng, int(rng.integers(1, 3) if source.cjk else rng.integers(2, 5)))
        if source.lang == "ja" and len(ws) == 2:
            t = "の".join(ws)
        else:
            t = source.sep.join(ws)
        if source.lang in ("en", "ru"):
            t = t[:1].upper() + t[1:]
    r = rng.random()
    if r < 0.12:
        t = f"{int(rng.integers(1, 10))}. {t}"
    elif r < 0.18:
        t = f"{int(rng.integers(1, 10))}.{int(rng.integers(1, 10))} {t}"
    elif r < 0.22 and source.lang in ("zh-Hans", "zh-Hant", "ja"):
        t = f"第{'一二三四五六七八九'[int(rng.integers(9))]}章 {t}"
    return t


# --------------------------------------------------------------------------------------------- mixing

# Korean particles a snippet may carry (also used by text.py's generated Korean sentences)
_KO_FIXED = ("의", "에", "에서", "도", "에게", "부터", "까지", "만", "에는")


def _latin_word(rng: np.random.Generator, source_en: TextSource | None) -> str:
    if source_en is not None and rng.random() < 0.5:
        cands = source_en.words(rng, 4)
        caps = [w for w in cands if w[:1].isupper() and w.isascii()]
        if caps:
            return caps[0]
        asc = [w for w in cands if w.isascii()]
        if asc:
            return max(asc, key=len)
    return _BRANDS[int(rng.integers(len(_BRANDS)))]


_MIX_KINDS = ("latin", "acronym", "number", "date", "price", "percent", "url", "code", "email")
_MIX_WEIGHTS = np.array([0.30, 0.17, 0.20, 0.07, 0.07, 0.07, 0.04, 0.05, 0.03])
_MIX_CUM = np.cumsum(_MIX_WEIGHTS / _MIX_WEIGHTS.sum())


def _snippet(rng: np.random.Generator, fields: _Fields, source_en: TextSource | None) -> str:
    kind = _MIX_KINDS[int(np.searchsorted(_MIX_CUM, rng.random(), side="right"))]
    if kind == "latin":
        return _latin_word(rng, source_en)
    if kind == "acronym":
        return _ACRONYMS[int(rng.integers(len(_ACRONYMS)))]
    if kind == "code":
        return fields.identifier(rng)
    return getattr(fields, kind)(rng)


def mix_content(rng: np.random.Generator, text: str, lang: str, source_en: TextSource | None = None,
                rate: float = 0.2, *, allowed: frozenset[str] | None = None) -> str:
    """Insert what real documents mix into prose: Latin words, brands, acronyms, numbers, dates, prices,
    percentages, URLs, code identifiers.

    ``rate``: expected insertions per 40 characters of ``text``; 0 returns ``text`` unchanged, and
    ``rate >= 1`` always inserts at least one. Insertions go at word boundaries (spaced scripts) or
    between characters / after punctuation (zh, ja), with or without spaces around Latin runs (both
    occur in real CJK text). For ar/he the runs are inserted in logical order; bidi is the renderer's job.
    ``allowed`` (default: the language's charset plus English) filters the inserted snippets only.
    """
    if rate <= 0 or not text:
        return text
    n = int(rng.poisson(rate * len(text) / 40.0))
    if rate >= 1:
        n = max(n, 1)
    if n == 0:
        return text
    n = min(n, 1 + len(text) // 4)
    if allowed is None:
        allowed = _default_allowed(lang)
    fields = _fields_for(lang, allowed)
    snippets = [s for s in (_sanitize(_snippet(rng, fields, source_en), allowed) for _ in range(n)) if s]
    if not snippets:
        return text
    if lang not in _CJK:
        toks = text.split(" ")
        for s in snippets:
            if lang == "ko" and rng.random() < 0.4:
                s += _KO_FIXED[int(rng.integers(len(_KO_FIXED)))] if rng.random() < 0.5 else \
                    ("는", "를", "가", "와")[int(rng.integers(4))]
            # before token i (1..len-1 keeps the sentence's first word and final punctuation in place)
            i = int(rng.integers(1, len(toks))) if len(toks) > 1 else int(rng.integers(0, 2))
            toks.insert(i, s)
        return " ".join(toks)
    # zh / ja: positions between characters, never inside an ASCII word or number
    cands = [i for i in range(1, len(text))
             if not (_ascii_alnum(text[i - 1]) and _ascii_alnum(text[i])) and text[i - 1] != " " and text[i] != " "]
    if not cands:
        cands = [len(text)]
    k = min(len(snippets), len(cands))
    picks = rng.choice(len(cands), size=k, replace=False)
    pos = sorted((cands[int(i)] for i in picks), reverse=True)
    out = text
    for p, s in zip(pos, snippets):
        spaced = rng.random() < 0.5 and (s[:1].isascii() or s[-1:].isascii())
        left, right = (out[p - 1] if p > 0 else " "), (out[p] if p < len(out) else " ")
        # a space where the snippet would otherwise glue onto an ASCII letter or digit, or by choice
        if (_ascii_alnum(s[0]) and _ascii_alnum(left)) or (spaced and left.isalnum()):
            s = " " + s
        if (_ascii_alnum(s[-1]) and _ascii_alnum(right)) or (spaced and right.isalnum()):
            s = s + " "
        out = out[:p] + s + out[p:]
    return out
