"""Swan's words for a refused identification or a membership that does not match, in
the French a mandataire reads and with what to do next.

The codes are Swan's ``IdentificationInvalidReason`` enum (partner schema,
``scripts/graphql/dist/partner-admin-schema.gql`` of ``swan-io/swan-partner-frontend``)
and the ``…MatchError`` fields of ``AccountMembershipBindingUserErrorStatusInfo``. A
code Swan adds later reads as :data:`UNKNOWN` (never a raw code on a page).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Explained:
    """What happened, and what the mandataire should do about it."""

    what: str
    todo: str


_RETAKE = "Recommencez la vérification dans un endroit bien éclairé, en suivant les consignes."
_OTHER_DOCUMENT = (
    "Recommencez la vérification avec une carte nationale d'identité ou un passeport "
    "en cours de validité."
)
_CALL = "Contactez l'équipe de votre AD : elle vous aidera à la terminer."

#: Every ``IdentificationInvalidReason`` of Swan's schema.
REASONS: dict[str, Explained] = {
    "AbsentOrIncompleteFace": Explained(
        "Votre visage n'apparaissait pas entièrement sur la photo.",
        "Recommencez en tenant votre smartphone face à vous, le visage entier dans le cadre.",
    ),
    "AlteredDevice": Explained(
        "Le smartphone utilisé a été modifié et n'est pas accepté par Swan.",
        "Recommencez avec un autre smartphone.",
    ),
    "BadDocumentLighting": Explained(
        "La pièce d'identité était trop peu éclairée.",
        _RETAKE,
    ),
    "DamagedDocument": Explained(
        "La pièce d'identité est abîmée.",
        _OTHER_DOCUMENT,
    ),
    "ExpiredDocument": Explained(
        "La pièce d'identité présentée est expirée.",
        _OTHER_DOCUMENT,
    ),
    "FraudDetected": Explained(
        "Swan n'a pas pu valider cette vérification.",
        _CALL,
    ),
    "InadequateVideo": Explained(
        "La vidéo était de qualité insuffisante ou incomplète.",
        _RETAKE,
    ),
    "InsufficientApplicantLighting": Explained(
        "Votre visage était trop peu éclairé.",
        _RETAKE,
    ),
    "InsufficientApplicantLiveness": Explained(
        "Les mouvements demandés pendant la vidéo n'ont pas été faits.",
        "Recommencez en suivant les consignes de mouvement affichées à l'écran.",
    ),
    "InsufficientConnectionQuality": Explained(
        "La connexion internet était trop faible.",
        "Recommencez avec une meilleure connexion (wifi ou 4G).",
    ),
    "InsufficientDocumentLiveness": Explained(
        "La pièce d'identité n'a pas été bougée comme demandé pendant la vidéo.",
        "Recommencez en suivant les consignes de mouvement affichées à l'écran.",
    ),
    "InsufficientDocumentReadability": Explained(
        "La pièce d'identité était illisible (floue ou avec des reflets).",
        _RETAKE,
    ),
    "InsufficientFaceReadability": Explained(
        "Votre visage était flou sur la vidéo.",
        _RETAKE,
    ),
    "InsufficientVideoReadability": Explained(
        "La vidéo était floue.",
        _RETAKE,
    ),
    "InternalError": Explained(
        "Une erreur technique chez Swan a interrompu la vérification.",
        "Recommencez la vérification : vous n'y êtes pour rien.",
    ),
    "InvalidAddress": Explained(
        "L'adresse indiquée n'a pas été acceptée.",
        _CALL,
    ),
    "InvalidOrMissingData": Explained(
        "Des informations de la vérification manquaient ou étaient incorrectes.",
        "Recommencez la vérification en remplissant chaque information demandée.",
    ),
    "InvoluntaryIdentification": Explained(
        "Swan n'a pas pu valider cette vérification.",
        _CALL,
    ),
    "MissingGeolocationData": Explained(
        "La localisation du smartphone n'était pas disponible.",
        "Autorisez la localisation pour le navigateur, puis recommencez.",
    ),
    "NegativeNewsHit": Explained(
        "Swan n'a pas pu valider cette vérification.",
        _CALL,
    ),
    "NonMatchingIdentity": Explained(
        "L'identité vérifiée ne correspond pas à celle du mandataire enregistré.",
        "Vérifiez que c'est bien vous, le mandataire, qui faites la vérification avec votre "
        "propre pièce d'identité ; sinon contactez l'équipe de votre AD.",
    ),
    "NonOriginalDocument": Explained(
        "La pièce présentée était une copie (photo, photocopie ou écran).",
        "Recommencez avec l'original de votre carte d'identité ou de votre passeport.",
    ),
    "SanctionListHit": Explained(
        "Swan n'a pas pu valider cette vérification.",
        _CALL,
    ),
    "SecondDocumentRequired": Explained(
        "Swan demande une seconde pièce d'identité.",
        "Recommencez en ayant vos deux pièces (carte d'identité et passeport, par exemple).",
    ),
    "TechnicalSignatureError": Explained(
        "Une erreur technique a interrompu la signature électronique.",
        "Recommencez la vérification : vous n'y êtes pour rien.",
    ),
    "TimeoutSignatureFlow": Explained(
        "Le temps pour signer électroniquement a été dépassé.",
        "Recommencez et allez au bout de la signature sans interruption.",
    ),
    "UnacceptableDocument": Explained(
        "Ce type de pièce n'est pas accepté.",
        _OTHER_DOCUMENT,
    ),
    "UnderageApplicant": Explained(
        "La personne vérifiée est mineure.",
        "Le mandataire doit être majeur : contactez l'équipe de votre AD.",
    ),
}

UNKNOWN = Explained(
    "Swan a refusé la vérification sans en préciser la raison.",
    "Recommencez la vérification ; si elle est refusée de nouveau, " + _CALL[0].lower() + _CALL[1:],
)

#: The ``…MatchError`` fields of a ``BindingUserError``, as a mandataire and staff read them.
MISMATCH_LABELS: dict[str, str] = {
    "firstNameMatchError": "le prénom",
    "lastNameMatchError": "le nom",
    "birthDateMatchError": "la date de naissance",
    "phoneNumberMatchError": "le numéro de téléphone",
    "emailVerifiedMatchError": "l'adresse email (non vérifiée)",
    "idVerifiedMatchError": "l'identité (non vérifiée)",
}


def reason_text(code: str | None) -> Explained:
    """The French reading of one ``IdentificationInvalidReason`` code."""
    return REASONS.get(code or "", UNKNOWN)


def mismatch_labels(fields: Iterable[str]) -> list[str]:
    """The labels of the fields that do not match, in Swan's order; unknown fields are
    named as « une autre information »."""
    wanted = list(dict.fromkeys(fields))
    known = [MISMATCH_LABELS[f] for f in MISMATCH_LABELS if f in wanted]
    if any(f not in MISMATCH_LABELS for f in wanted):
        known.append("une autre information")
    return known


def mismatch_sentence(fields: Iterable[str]) -> str:
    """« le nom et la date de naissance »: the list as it ends a French sentence."""
    labels = mismatch_labels(fields)
    if not labels:
        return "une information de la fiche"
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " et " + labels[-1]
