"""The public page's words in Kazakh, Russian and English, and the choice of language.

The language is the one a link asked for (``?lang=kk|ru|en``), else the best one the browser's
``Accept-Language`` names, else Kazakh. Document data exist only in Kazakh and Russian: an English
page shows them in Russian, marked ``lang="ru"`` so that a screen reader reads them as Russian.
"""
from __future__ import annotations

import re

__all__ = ["LANGS", "DEFAULT_LANG", "negotiate", "text", "data_lang", "LANGUAGE_NAMES"]

LANGS = ("kk", "ru", "en")
DEFAULT_LANG = "kk"
#: Each language's name in itself, for the switch.
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}

_TAG = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*$")


def negotiate(asked: str | None, accept_language: str | None) -> str:
    """``asked`` (the ``lang`` query parameter) if it is one of ours; else the first of ours by
    the ``Accept-Language`` q-values (ties keep the header's order); else Kazakh."""
    if asked and asked.strip().lower() in LANGS:
        return asked.strip().lower()
    best, best_q = None, 0.0
    for part in (accept_language or "")[:1000].split(","):
        tag, _, params = part.partition(";")
        m = _TAG.match(tag)
        if not m:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = m.group(1).lower()
        if lang in LANGS and q > best_q and q <= 1.0:
            best, best_q = lang, q
    return best or DEFAULT_LANG


def data_lang(lang: str) -> str:
    """The language a document's kk/ru values are shown in on a page in ``lang``."""
    return lang if lang in ("kk", "ru") else "ru"


def text(key: str, lang: str, **values: object) -> str:
    """The phrase ``key`` in ``lang``, its ``{placeholders}`` filled."""
    return phrase_in(MESSAGES, key, lang, **values)


def phrase_in(table: dict[str, dict[str, str]], key: str, lang: str, **values: object) -> str:
    """The phrase ``key`` of a kk/ru/en ``table`` in ``lang``, its ``{placeholders}`` filled
    (`text` for this module's phrases; a page with words of its own passes its table)."""
    phrase = table[key][lang]
    return phrase.format(**values) if values else phrase


# Every phrase in the three languages. Kazakh uses the Kazakh Cyrillic letters (ә ғ қ ң ө ұ ү һ і).
MESSAGES: dict[str, dict[str, str]] = {
    # frame
    "site": {"kk": "Құжаттың түпнұсқалығын тексеру", "ru": "Проверка подлинности документа",
             "en": "Document authenticity check"},
    "skip": {"kk": "Негізгі мазмұнға өту", "ru": "Перейти к основному содержанию",
             "en": "Skip to main content"},
    "language_nav": {"kk": "Беттің тілі", "ru": "Язык страницы", "en": "Page language"},
    "privacy": {"kk": "Азаматтардың дербес деректері бұл бетте жасырылған.",
                "ru": "Персональные данные граждан на этой странице скрыты.",
                "en": "Citizens' personal data are masked on this page."},
    "data_in_russian": {"kk": "", "ru": "",
                        "en": "Names, addresses and other details are shown as written in the "
                              "document (in Russian)."},
    "code": {"kk": "Тексеру коды", "ru": "Код проверки", "en": "Verification code"},
    # status
    "status_heading": {"kk": "Құжаттың мәртебесі", "ru": "Статус документа", "en": "Document status"},
    "status.valid": {"kk": "Құжат жарамды", "ru": "Документ действителен",
                     "en": "The document is valid"},
    "status.valid.note": {"kk": "Құжат берілген, оның күші жойылмаған. Қағаз данасын төмендегі "
                                "мәліметтермен салыстырыңыз.",
                          "ru": "Документ выдан и не аннулирован. Сверьте бумажный экземпляр со "
                                "сведениями ниже.",
                          "en": "The document was issued and has not been annulled. Compare your "
                                "paper copy with the details below."},
    "status.annulled": {"kk": "Құжаттың күші жойылған", "ru": "Документ аннулирован",
                        "en": "The document has been annulled"},
    "status.annulled.note": {"kk": "Бұл құжатқа енді сүйенуге болмайды.",
                             "ru": "На этот документ больше нельзя опираться.",
                             "en": "This document can no longer be relied on."},
    "status.superseded": {"kk": "Құжаттың орнына жаңасы берілген", "ru": "Документ заменен",
                          "en": "The document has been superseded"},
    "status.superseded.note": {"kk": "Қолданыстағы нұсқасы — № {n} нұсқа.",
                               "ru": "Действующая версия — версия № {n}.",
                               "en": "The current version is version {n}."},
    "status.awaiting_signature": {"kk": "Құжат қол қойылуын күтуде",
                                  "ru": "Документ ожидает подписания",
                                  "en": "The document is awaiting signatures"},
    "status.awaiting_signature.note": {
        "kk": "Тиісті лауазымды адамдардың барлығы қол қойғанға дейін құжаттың заңды күші жоқ.",
        "ru": "Пока документ не подписан всеми должностными лицами, он не имеет юридической силы.",
        "en": "Until all the officials concerned have signed it, the document has no legal force."},
    # a document awaiting its officials' signatures
    "awaiting.progress": {"kk": "Қойылған қолтаңбалар: {done} / {total}",
                          "ru": "Поставлено подписей: {done} из {total}",
                          "en": "Signatures in: {done} of {total}"},
    "awaiting.signed_heading": {"kk": "Қол қойған лауазымды адамдар", "ru": "Подписали",
                                "en": "Signed by"},
    "awaiting.none_signed": {"kk": "Құжатқа әлі ешкім қол қойған жоқ.",
                             "ru": "Документ еще никем не подписан.",
                             "en": "No one has signed the document yet."},
    "awaiting.expected_heading": {"kk": "Қол қоюы күтілетін лауазымды адамдар",
                                  "ru": "Ожидаются подписи",
                                  "en": "Signatures awaited from"},
    "awaiting.next": {"kk": "кезекті", "ru": "следующий", "en": "next"},
    "awaiting.no_file": {"kk": "Құжаттың файлы барлық қолтаңба қойылғаннан кейін осы бетте жарияланады.",
                         "ru": "Файл документа появится на этой странице после того, как будут "
                               "поставлены все подписи.",
                         "en": "The document's file will be published on this page once every "
                               "signature is in."},
    "annulled_on": {"kk": "Күшін жою күні", "ru": "Дата аннулирования", "en": "Annulled on"},
    "annulled_reason": {"kk": "Себебі", "ru": "Причина", "en": "Reason"},
    "current_version_link": {"kk": "Қолданыстағы нұсқаны жүктеп алу (PDF)",
                             "ru": "Скачать действующую версию (PDF)",
                             "en": "Download the current version (PDF)"},
    # document
    "doc_heading": {"kk": "Құжат туралы мәліметтер", "ru": "Сведения о документе",
                    "en": "Document details"},
    "field.type": {"kk": "Құжаттың түрі", "ru": "Вид документа", "en": "Type of document"},
    "field.number": {"kk": "Нөмірі", "ru": "Номер", "en": "Number"},
    "field.request_number": {"kk": "Сұраудың нөмірі", "ru": "Номер запроса", "en": "Request number"},
    "field.outgoing_number": {"kk": "Шығыс нөмірі", "ru": "Исходящий номер",
                              "en": "Outgoing number"},
    "field.date": {"kk": "Берілген күні", "ru": "Дата выдачи", "en": "Date of issue"},
    "field.issuer": {"kk": "Құжатты берген", "ru": "Кем выдан", "en": "Issued by"},
    "field.language": {"kk": "Құжаттың тілі", "ru": "Язык документа",
                       "en": "Language of the document"},
    "doc_language.kk": {"kk": "қазақ тілі", "ru": "казахский", "en": "Kazakh"},
    "doc_language.ru": {"kk": "орыс тілі", "ru": "русский", "en": "Russian"},
    "doc_language.kk+ru": {"kk": "қазақ және орыс тілдері", "ru": "казахский и русский",
                           "en": "Kazakh and Russian"},
    # facts
    "fact.right_kind": {"kk": "Құқық түрі", "ru": "Вид права", "en": "Kind of right"},
    "fact.term": {"kk": "Құқық мерзімі", "ru": "Срок права", "en": "Term of the right"},
    "fact.duplicate": {"kk": "Телнұсқа", "ru": "Дубликат", "en": "Duplicate"},
    "fact.holders": {"kk": "Құқық иеленуші", "ru": "Правообладатель", "en": "Right holder"},
    "fact.cadastral_number": {"kk": "Кадастрлық нөмірі", "ru": "Кадастровый номер",
                              "en": "Cadastral number"},
    "fact.area_ha": {"kk": "Алаңы", "ru": "Площадь", "en": "Area"},
    "fact.address": {"kk": "Мекенжайы (орналасқан жері)", "ru": "Адрес (местоположение)",
                     "en": "Address (location)"},
    "fact.land_category": {"kk": "Жер санаты", "ru": "Категория земель", "en": "Land category"},
    "fact.intended_use": {"kk": "Нысаналы мақсаты", "ru": "Целевое назначение",
                          "en": "Intended use"},
    "fact.as_of": {"kk": "Мәліметтер мына күнгі жағдай бойынша", "ru": "Сведения по состоянию на",
                   "en": "Information as of"},
    "fact.cadastral_value": {"kk": "Кадастрлық (бағалау) құны",
                             "ru": "Кадастровая (оценочная) стоимость",
                             "en": "Cadastral (valuation) value"},
    "fact.operation": {"kk": "Жүргізілген іс-әрекет", "ru": "Действие", "en": "Operation"},
    "fact.object_kind": {"kk": "Объектінің түрі", "ru": "Вид объекта", "en": "Type of object"},
    "fact.assigned_address": {"kk": "Берілген мекенжай", "ru": "Присвоенный адрес",
                              "en": "Assigned address"},
    "fact.new_address": {"kk": "Жаңа мекенжай", "ru": "Новый адрес", "en": "New address"},
    "fact.abolished_address": {"kk": "Жойылатын мекенжай", "ru": "Упраздняемый адрес",
                               "en": "Abolished address"},
    "fact.clarified_address": {"kk": "Нақтыланған мекенжай", "ru": "Уточненный адрес",
                               "en": "Clarified address"},
    "fact.previous_address": {"kk": "Бұрынғы мекенжай", "ru": "Прежний адрес",
                              "en": "Previous address"},
    "fact.rka": {"kk": "Мекенжайдың тіркеу коды", "ru": "Регистрационный код адреса",
                 "en": "Address registration code"},
    "fact.applicant": {"kk": "Өтініш беруші", "ru": "Заявитель", "en": "Applicant"},
    "fact.location": {"kk": "Орналасқан жері", "ru": "Местоположение", "en": "Location"},
    "fact.valuation_reason": {"kk": "Бағалау мақсаты", "ru": "Цель оценки",
                              "en": "Purpose of the valuation"},
    "fact.total_area": {"kk": "Жалпы көлемі", "ru": "Общая площадь", "en": "Total area"},
    "fact.service": {"kk": "Мемлекеттік қызмет", "ru": "Государственная услуга",
                     "en": "Public service"},
    "fact.application": {"kk": "Өтініш", "ru": "Заявление", "en": "Application"},
    "fact.grounds": {"kk": "Бас тарту негіздері", "ru": "Основания отказа",
                     "en": "Grounds for the refusal"},
    "yes": {"kk": "иә", "ru": "да", "en": "yes"},
    "person_id": {"kk": "ЖСН", "ru": "ИИН", "en": "IIN"},
    "organization_id": {"kk": "БСН", "ru": "БИН", "en": "BIN"},
    "share": {"kk": "үлесі {share}", "ru": "доля {share}", "en": "share {share}"},
    "tenge": {"kk": "{amount} теңге", "ru": "{amount} тенге", "en": "KZT {amount}"},
    "unit.ha": {"kk": "га", "ru": "га", "en": "ha"},
    "unit.m2": {"kk": "ш. м", "ru": "кв. м", "en": "m²"},
    "application": {"kk": "{date}, № {number}", "ru": "№ {number} от {date}",
                    "en": "No. {number} of {date}"},
    # signatures
    "signers_heading": {"kk": "Электрондық цифрлық қолтаңбалар", "ru": "Электронные цифровые подписи",
                        "en": "Electronic digital signatures"},
    "signers_none": {"kk": "Құжатта электрондық цифрлық қолтаңба жоқ.",
                     "ru": "В документе нет электронной цифровой подписи.",
                     "en": "The document carries no electronic digital signature."},
    "signer.position": {"kk": "Лауазымы", "ru": "Должность", "en": "Position"},
    "signer.role": {"kk": "Өкілеттігі", "ru": "Полномочия", "en": "Role"},
    "signer.organization": {"kk": "Ұйым", "ru": "Организация", "en": "Organisation"},
    "signer.time": {"kk": "Қол қойылған уақыты", "ru": "Время подписания", "en": "Signed at"},
    "signer.check": {"kk": "Қолтаңбаны тексеру", "ru": "Проверка подписи", "en": "Signature check"},
    "check.passed": {"kk": "Қолтаңба расталды", "ru": "Подпись подтверждена",
                     "en": "The signature is valid"},
    "check.indeterminate": {"kk": "Қолтаңбаны қазір растау мүмкін емес",
                            "ru": "Подпись сейчас не удается подтвердить",
                            "en": "The signature cannot be confirmed at the moment"},
    "check.failed": {"kk": "Қолтаңба жарамсыз", "ru": "Подпись недействительна",
                     "en": "The signature is not valid"},
    "check.error": {"kk": "Қолтаңбаны тексеру мүмкін болмады", "ru": "Проверить подпись не удалось",
                    "en": "The signature could not be checked"},
    "checked_at": {"kk": "Тексерілген уақыты: {time}", "ru": "Проверено: {time}",
                   "en": "Checked at {time}"},
    "role.ceo": {"kk": "Ұйымның бірінші басшысы", "ru": "Первый руководитель организации",
                 "en": "Head of the organisation"},
    "role.can_sign": {"kk": "Қол қою құқығы бар тұлға", "ru": "Лицо с правом подписи",
                      "en": "Authorised signatory"},
    "role.can_sign_financial": {"kk": "Қаржылық құжаттарға қол қою құқығы бар тұлға",
                                "ru": "Лицо с правом подписи финансовых документов",
                                "en": "Authorised signatory for financial documents"},
    "role.hr": {"kk": "Кадр қызметінің қызметкері", "ru": "Сотрудник кадровой службы",
                "en": "HR officer"},
    "role.employee": {"kk": "Ұйымның қызметкері", "ru": "Сотрудник организации",
                      "en": "Employee of the organisation"},
    "role.individual": {"kk": "Жеке тұлға", "ru": "Физическое лицо", "en": "Individual"},
    "time_zone_note": {"kk": "{offset} уақыты бойынша", "ru": "по времени {offset}",
                       "en": "{offset}"},
    # file and versions
    "file_heading": {"kk": "Құжаттың файлы", "ru": "Файл документа", "en": "Document file"},
    "sha256": {"kk": "SHA-256 бақылау сомасы", "ru": "Контрольная сумма SHA-256",
               "en": "SHA-256 checksum"},
    "download": {"kk": "PDF файлын жүктеп алу", "ru": "Скачать PDF-файл", "en": "Download the PDF"},
    "versions_heading": {"kk": "Құжаттың нұсқалары", "ru": "Версии документа",
                         "en": "Versions of the document"},
    "version": {"kk": "№ {n} нұсқа", "ru": "Версия № {n}", "en": "Version {n}"},
    "version.current": {"kk": "қолданыстағы", "ru": "действующая", "en": "current"},
    "version.latest": {"kk": "соңғы", "ru": "последняя", "en": "latest"},
    "version.superseded": {"kk": "ауыстырылған", "ru": "заменена", "en": "superseded"},
    "version.created": {"kk": "Жасалған уақыты", "ru": "Создана", "en": "Created"},
    "version.download": {"kk": "№ {n} нұсқаның PDF файлы", "ru": "PDF-файл версии № {n}",
                         "en": "PDF of version {n}"},
    # compare
    "compare_heading": {"kk": "Файлды салыстыру", "ru": "Сверка файла", "en": "Compare a file"},
    "compare_intro": {"kk": "Қолыңыздағы PDF файлы осы құжат ретінде берілген файл ма, тексеріңіз. "
                            "Файл сақталмайды: тек оның SHA-256 бақылау сомасы есептеледі.",
                      "ru": "Проверьте, был ли ваш PDF-файл выдан как этот документ. Файл не "
                            "сохраняется: вычисляется только его контрольная сумма SHA-256.",
                      "en": "Check whether your PDF file was issued as this document. The file is "
                            "not kept: only its SHA-256 checksum is computed."},
    "compare_label": {"kk": "PDF файлын таңдаңыз", "ru": "Выберите PDF-файл",
                      "en": "Choose a PDF file"},
    "compare_hint": {"kk": "Ең көбі {mb} МБ.", "ru": "Не более {mb} МБ.", "en": "Up to {mb} MB."},
    "compare_button": {"kk": "Салыстыру", "ru": "Сверить", "en": "Compare"},
    "result_heading": {"kk": "Салыстыру нәтижесі", "ru": "Результат сверки",
                       "en": "Comparison result"},
    "match.title": {"kk": "Файл сәйкес келеді", "ru": "Файл совпадает", "en": "The file matches"},
    "match.current": {"kk": "Бұл — құжаттың № {n} нұсқасы, қолданыстағы нұсқа.",
                      "ru": "Это версия № {n} документа, действующая.",
                      "en": "It is version {n} of the document, the current one."},
    "match.older": {"kk": "Бұл — құжаттың № {n} нұсқасы. Ол № {current} нұсқамен ауыстырылған.",
                    "ru": "Это версия № {n} документа. Она заменена версией № {current}.",
                    "en": "It is version {n} of the document. It has been superseded by version "
                          "{current}."},
    "match.annulled": {"kk": "Назар аударыңыз: құжаттың күші жойылған.",
                       "ru": "Обратите внимание: документ аннулирован.",
                       "en": "Please note: the document has been annulled."},
    "no_match.title": {"kk": "Файл сәйкес келмейді", "ru": "Файл не совпадает",
                       "en": "The file does not match"},
    "no_match": {"kk": "Ол осы құжат ретінде берілген файлдардың ешқайсысы емес.",
                 "ru": "Он не совпадает ни с одним из файлов, выданных как этот документ.",
                 "en": "It is none of the files issued as this document."},
    "no_match.note": {"kk": "Файл өзгертілген немесе басқа құжатқа тиесілі болуы мүмкін. Түпнұсқа "
                            "файлды осы беттен жүктеп алуға болады.",
                      "ru": "Файл мог быть изменен или относиться к другому документу. Подлинный "
                            "файл можно скачать на этой странице.",
                      "en": "The file may have been altered or may belong to another document. The "
                            "genuine file can be downloaded from this page."},
    "your_sha256": {"kk": "Сіздің файлыңыздың SHA-256 бақылау сомасы",
                    "ru": "Контрольная сумма SHA-256 вашего файла",
                    "en": "SHA-256 checksum of your file"},
    "your_file": {"kk": "Сіздің файлыңыз", "ru": "Ваш файл", "en": "Your file"},
    "file_name": {"kk": "Файлдың атауы", "ru": "Имя файла", "en": "File name"},
    "back": {"kk": "Құжат бетіне оралу", "ru": "Вернуться к документу", "en": "Back to the document"},
    "upload.empty": {"kk": "Файл таңдалмаған немесе ол бос.", "ru": "Файл не выбран или пуст.",
                     "en": "No file was chosen, or the file is empty."},
    "upload.too_large": {"kk": "Файл тым үлкен: ең көбі {mb} МБ.",
                         "ru": "Файл слишком большой: не более {mb} МБ.",
                         "en": "The file is too large: {mb} MB at most."},
    "upload.bad_form": {"kk": "Файлды жіберу мүмкін болмады. Файлды қайта таңдап, тағы жіберіп көріңіз.",
                        "ru": "Файл не удалось передать. Выберите его еще раз и повторите отправку.",
                        "en": "The file could not be sent. Please choose it again and resend."},
    # looking a code up
    "lookup_heading": {"kk": "Тексеру кодын енгізіңіз", "ru": "Введите код проверки",
                       "en": "Enter the verification code"},
    "lookup_intro": {"kk": "Код құжаттың әр бетінде, QR-кодтың жанында басылған. Әріптердің бас "
                           "немесе кіші болуы және сызықшалар маңызды емес.",
                     "ru": "Код напечатан на каждой странице документа рядом с QR-кодом. Регистр "
                           "букв и дефисы значения не имеют.",
                     "en": "The code is printed on every page of the document, next to the QR code. "
                           "Capital or small letters and dashes do not matter."},
    "lookup_button": {"kk": "Тексеру", "ru": "Проверить", "en": "Check"},
    "not_found": {"kk": "Құжат табылмады", "ru": "Документ не найден", "en": "Document not found"},
    "not_found.unknown": {"kk": "Бұл кодпен берілген құжат жоқ. Кодты QR-кодтың жанындағы мәтінмен "
                                "салыстырып тексеріңіз.",
                          "ru": "Документа с таким кодом нет. Сверьте код с текстом рядом с QR-кодом.",
                          "en": "No document was issued with this code. Check the code against the "
                                "text next to the QR code."},
    "not_found.check": {"kk": "Код қате терілген сияқты: бақылау таңбалары сәйкес келмейді. Кодты "
                              "қайта тексеріңіз.",
                        "ru": "Похоже, код набран с ошибкой: контрольные символы не совпадают. "
                              "Проверьте код еще раз.",
                        "en": "The code seems to be mistyped: its check characters do not match. "
                              "Please check it again."},
    "not_found.length": {"kk": "Тексеру коды {n} таңбадан тұрады (төрт таңбадан топтастырылған).",
                         "ru": "Код проверки состоит из {n} символов (группы по четыре).",
                         "en": "A verification code has {n} characters (in groups of four)."},
    "not_found.character": {"kk": "Тексеру кодында тек цифрлар мен латын әріптері болады.",
                            "ru": "В коде проверки только цифры и латинские буквы.",
                            "en": "A verification code has only digits and Latin letters."},
    "too_many": {"kk": "Сұраныс тым көп", "ru": "Слишком много запросов", "en": "Too many requests"},
    "too_many.note": {"kk": "Біраз күтіп, {s} секундтан кейін қайталап көріңіз.",
                      "ru": "Подождите и повторите попытку через {s} с.",
                      "en": "Please wait and try again in {s} seconds."},
}

# document titles as the paper prints them (kk, ru), and in English
TITLES: dict[str, dict[str, str]] = {
    "land_right_act.private_ownership": {
        "en": "Act on the right of private ownership of a land plot"},
    "land_right_act.permanent_land_use": {"en": "Act on the right of permanent land use"},
    "land_right_act.temporary_paid_land_use": {
        "en": "Act on the right of temporary paid ({lease_kind}) land use (lease)"},
    "land_right_act.temporary_free_land_use": {"en": "Act on the right of temporary free land use"},
    "lease_kind.long": {"en": "long-term"},
    "lease_kind.short": {"en": "short-term"},
    "cadastral_information.cadastral_info": {"en": "Cadastral information on a land plot"},
    "cadastral_information.ownership_info": {"en": "Information on the ownership of a land plot"},
    "cadastral_information.identification_document_info": {
        "en": "Information on the preparation of an identification document for a land plot"},
    "cadastral_information.title_document_info": {
        "en": "Information on the title document of the first grant of a right to a land plot"},
    "address_certificate": {
        "kk": "Жылжымайтын мүлік объектісінің мекенжайын анықтау туралы анықтама",
        "ru": "Справка об определении адреса объекта недвижимости",
        "en": "Certificate determining the address of a real estate object"},
    "cadastral_value_act": {
        "kk": "Жер учаскесінің кадастрлық (бағалау) құнын айқындау актісі",
        "ru": "Акт определения кадастровой (оценочной) стоимости земельного участка",
        "en": "Act determining the cadastral (valuation) value of a land plot"},
    "motivated_refusal": {
        "kk": "Мемлекеттік қызмет көрсетуден дәлелді бас тарту",
        "ru": "Мотивированный отказ в оказании государственной услуги",
        "en": "Reasoned refusal to provide a public service"},
}

# values of closed lists that docgen's labels have in kk/ru only
ENUM_EN: dict[str, str] = {
    "right_name.private_ownership": "right of private ownership",
    "right_name.permanent_land_use": "right of permanent land use",
    "right_name.temporary_paid_land_use": "right of temporary paid land use (lease)",
    "right_name.temporary_free_land_use": "right of temporary free land use",
    "object_kind.land_plot": "land plot",
    "object_kind.building": "building (structure)",
    "object_kind.premises": "premises",
    "address_parts.country": "Republic of Kazakhstan",
}

OPERATIONS: dict[str, dict[str, str]] = {
    "assign": {"kk": "Мекенжай беру", "ru": "Присвоение адреса", "en": "Assignment of an address"},
    "change": {"kk": "Мекенжайды өзгерту", "ru": "Изменение адреса", "en": "Change of the address"},
    "abolish": {"kk": "Мекенжайды жою", "ru": "Упразднение адреса", "en": "Abolition of the address"},
    "clarify": {"kk": "Мекенжайды нақтылау", "ru": "Уточнение адреса",
                "en": "Clarification of the address"},
}
