"""Reply templates, written in each reporter language, chosen by the officer on the case page.

These texts go to the reporter in *their* language (the ``language`` of the report
body), whatever language the officer's screen is in, so they are content, not UI
strings: they live here rather than in the officer app's catalogs, and a unit edits them
here. The officer may edit a template's text before sending it.

To review: each text was written for this first version; the unit's communication
officer should approve the wording in each language.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from journalist_app.triage.errors import UnknownReplyTemplate

REPORTER_LANGUAGES = ("ar", "fr", "en", "es")
# The public site's default language: Arabic, right to left.
DEFAULT_REPORTER_LANGUAGE = "ar"
RIGHT_TO_LEFT = frozenset({"ar"})


@dataclass(frozen=True)
class ReplyTemplate:
    id: str
    label: LazyString
    texts: dict[str, str]

    def text(self, language: str) -> str:
        return self.texts[reporter_language(language)]


TEMPLATES: tuple[ReplyTemplate, ...] = (
    ReplyTemplate(
        "acknowledgement",
        _l("Acknowledgement"),
        {
            "ar": "شكرًا على تبليغك. لقد توصّلت به وحدة مكافحة الجريمة الإلكترونية وستتم دراسته. "
            "احتفظ برمز الإيصال الخاص بك: فهو الوسيلة الوحيدة للاطلاع على ردودنا.",
            "fr": "Merci pour votre signalement. Il a bien été reçu par l'unité de lutte contre "
            "la cybercriminalité et va être examiné. Conservez votre code de reçu : c'est le "
            "seul moyen de lire nos réponses.",
            "en": "Thank you for your report. The cybercrime unit has received it and will "
            "examine it. Keep your receipt code: it is the only way to read our replies.",
            "es": "Gracias por su denuncia. La unidad de ciberdelincuencia la ha recibido y la "
            "examinará. Conserve su código de recibo: es la única forma de leer nuestras "
            "respuestas.",
        },
    ),
    ReplyTemplate(
        "more_information",
        _l("Request for more information"),
        {
            "ar": "شكرًا على تبليغك. لدراسته نحتاج إلى معلومات إضافية: أين ومتى رأيت هذا المحتوى، "
            "وأي عنوان أو معلومة أخرى قد تفيد. يمكنك إرسالها عبر موقع التبليغ باستعمال رمز "
            "الإيصال الخاص بك.",
            "fr": "Merci pour votre signalement. Pour l'examiner, nous avons besoin de "
            "précisions : où et quand vous avez vu ce contenu, et toute autre adresse ou "
            "information utile. Vous pouvez les envoyer sur le site de signalement avec votre "
            "code de reçu.",
            "en": "Thank you for your report. To examine it we need more information: where "
            "and when you saw the content, and any other address or detail that could help. "
            "You can send it on the reporting site with your receipt code.",
            "es": "Gracias por su denuncia. Para examinarla necesitamos más información: dónde "
            "y cuándo vio el contenido, y cualquier otra dirección o dato útil. Puede enviarla "
            "en el sitio de denuncias con su código de recibo.",
        },
    ),
    ReplyTemplate(
        "referred",
        _l("Referred"),
        {
            "ar": "تمت دراسة تبليغك وإحالته على وحدة الشرطة القضائية المختصة، تحت إشراف النيابة "
            "العامة. شكرًا على مساعدتك.",
            "fr": "Votre signalement a été examiné et transmis à l'unité de police judiciaire "
            "compétente, sous l'autorité du ministère public. Merci de votre aide.",
            "en": "Your report has been examined and passed to the competent judicial police "
            "unit, under the authority of the public prosecutor. Thank you for your help.",
            "es": "Su denuncia ha sido examinada y transmitida a la unidad de policía judicial "
            "competente, bajo la autoridad de la fiscalía. Gracias por su ayuda.",
        },
    ),
    ReplyTemplate(
        "closed",
        _l("Closed"),
        {
            "ar": "أنهينا دراسة تبليغك وتم إغلاقه. شكرًا لأنك خصّصت الوقت للتبليغ.",
            "fr": "Nous avons terminé l'examen de votre signalement et l'avons clôturé. Merci "
            "d'avoir pris le temps de le signaler.",
            "en": "We have finished examining your report and closed it. Thank you for taking "
            "the time to report it.",
            "es": "Hemos terminado de examinar su denuncia y la hemos cerrado. Gracias por "
            "tomarse el tiempo de denunciarlo.",
        },
    ),
)
TEMPLATE_BY_ID = {template.id: template for template in TEMPLATES}


def reporter_language(language: str | None) -> str:
    """The reporter language a template exists in: theirs, or the public site's default."""
    base = (language or "").split("-", 1)[0].lower()
    return base if base in REPORTER_LANGUAGES else DEFAULT_REPORTER_LANGUAGE


def template(template_id: str) -> ReplyTemplate:
    found = TEMPLATE_BY_ID.get(template_id)
    if found is None:
        raise UnknownReplyTemplate(f"no reply template {template_id!r}")
    return found
