"""The drug table: ingredients, classes, minimum adequate doses, brand names and groups.

Source: clinical-facts.md, "Medication table (ATRQ minimum adequate daily
doses)", "Bipolar-depression agents", "Interaction and other groups" and
"Common brand names to map"; spec/screening.md, "Ingredient" and "Pain
resistance". A few brand names beyond the facts file's list are added (marked
below) so that interaction drugs written by brand are still recognised; the
groups may grow but never shrink.

RxNorm ingredient codes are given only where checked (see ``_RXNORM``); every
other ingredient is found by name. Ketamine 6130 is the facts file's working
value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

GROUPS: tuple[str, ...] = (
    "antidepressant",
    "augmenting",
    "bipolar_agent",
    "benzodiazepine",
    "sedative_hypnotic",
    "maoi",
    "psychostimulant",
    "opioid",
    "naltrexone",
    "antihypertensive",
    "antithyroid",
    "thyroid_replacement",
    "nsaid",
    "pain_medication",
    "ketamine",
)

CLASSES: tuple[str, ...] = (
    "SSRI",
    "SNRI",
    "TCA",
    "MAOI",
    "atypical",
    "antipsychotic",
    "mood stabiliser",
)

CONFIRMED = "ATRQ (confirmed)"
ATRQ_WORKING = "ATRQ working value (clinical-facts.md)"
BIPOLAR_WORKING = "bipolar-depression working minimum (clinical-facts.md)"
NO_MINIMUM = "no minimum adequate dose in clinical-facts.md"

# Lithium is judged by serum level where one is recorded, else by 600 mg a day.
LITHIUM_LEVEL_LOINC = "14334-7"
LITHIUM_MINIMUM_LEVEL_MMOL_L = 0.6
LITHIUM_SOURCE = (
    "bipolar-depression working minimum (clinical-facts.md): serum lithium 0.6 mmol/L, "
    "or 600 mg a day where no level is recorded"
)

# Antihypertensive classes named by suffix in clinical-facts.md: ACE inhibitors (-pril),
# ARBs (-sartan), beta blockers (-olol). At least two letters before the suffix, so that
# "April" is not read as an ACE inhibitor while "losartan" is an ARB.
_ANTIHYPERTENSIVE_SUFFIX = re.compile(r"^[a-z]{2,}(?:pril|sartan|olol)$")
_ANTIHYPERTENSIVE_SOURCE = "clinical-facts.md: antihypertensives (-pril, -sartan, -olol)"


# RxNorm ingredient concepts (TTY IN), each checked against the CPIC drug table
# (github.com/cpicpgx/cpic-schema, drug.sql), except lithium 6448 (RxNorm ingredient
# "lithium") and ketamine 6130 (clinical-facts.md "Codes and costs", a working value).
# Ingredients not listed here are recognised by name only.
_RXNORM: Mapping[str, str] = MappingProxyType(
    {
        "amitriptyline": "704",
        "aripiprazole": "89013",
        "brexpiprazole": "1658314",
        "bupropion": "42347",
        "carbimazole": "2020",
        "carvedilol": "20352",
        "celecoxib": "140587",
        "citalopram": "2556",
        "clobazam": "21241",
        "clomipramine": "2597",
        "codeine": "2670",
        "desipramine": "3247",
        "diazepam": "3322",
        "diclofenac": "3355",
        "doxepin": "3638",
        "duloxetine": "72625",
        "escitalopram": "321988",
        "fentanyl": "4337",
        "fluoxetine": "4493",
        "fluvoxamine": "42355",
        "hydralazine": "5470",
        "hydrochlorothiazide": "5487",
        "imipramine": "5691",
        "ketamine": "6130",
        "lamotrigine": "28439",
        "lithium": "6448",
        "methadone": "6813",
        "methimazole": "6835",
        "methylphenidate": "6901",
        "metoprolol": "6918",
        "midazolam": "6960",
        "mirtazapine": "15996",
        "modafinil": "30125",
        "morphine": "7052",
        "naltrexone": "7243",
        "nortriptyline": "7531",
        "olanzapine": "61381",
        "oxazepam": "7781",
        "oxycodone": "7804",
        "paroxetine": "32937",
        "propylthiouracil": "8794",
        "protriptyline": "8886",
        "sertraline": "36437",
        "spironolactone": "9997",
        "tramadol": "10689",
        "trimipramine": "10834",
        "venlafaxine": "39786",
        "vortioxetine": "1455099",
    }
)


@dataclass(frozen=True)
class Drug:
    ingredient: str
    drug_class: str | None
    minimum_adequate_mg: float | None
    minimum_source: str
    brands: tuple[str, ...]
    rxnorm: str | None
    groups: frozenset[str]


def _drug(
    ingredient: str,
    *groups: str,
    drug_class: str | None = None,
    minimum: float | None = None,
    source: str = NO_MINIMUM,
    brands: tuple[str, ...] = (),
) -> Drug:
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"{ingredient}: unknown group {sorted(unknown)}")
    if drug_class is not None and drug_class not in CLASSES:
        raise ValueError(f"{ingredient}: unknown class {drug_class}")
    mg = None if minimum is None else float(minimum)
    return Drug(
        ingredient, drug_class, mg, source, brands, _RXNORM.get(ingredient), frozenset(groups)
    )


def _antidepressant(
    ingredient: str,
    drug_class: str,
    minimum: float,
    source: str,
    *brands: str,
    also: tuple[str, ...] = (),
) -> Drug:
    return _drug(
        ingredient,
        "antidepressant",
        *also,
        drug_class=drug_class,
        minimum=minimum,
        source=source,
        brands=brands,
    )


def _plain(group: str, names: str, *extra_groups: str) -> list[Drug]:
    return [_drug(name, group, *extra_groups) for name in names.split()]


_PAIN = "pain_medication"

_TABLE: list[Drug] = [
    # SSRIs
    _antidepressant("fluoxetine", "SSRI", 20, CONFIRMED, "Prozac"),
    _antidepressant("paroxetine", "SSRI", 20, CONFIRMED, "Paxil"),
    _antidepressant("citalopram", "SSRI", 20, CONFIRMED, "Celexa"),
    _antidepressant("escitalopram", "SSRI", 10, CONFIRMED, "Lexapro"),
    _antidepressant("sertraline", "SSRI", 50, CONFIRMED, "Zoloft"),
    _antidepressant("fluvoxamine", "SSRI", 100, ATRQ_WORKING, "Luvox"),
    # SNRIs (venlafaxine 75 mg is confirmed too low; 150 is the working minimum)
    _antidepressant(
        "venlafaxine",
        "SNRI",
        150,
        "ATRQ working value (clinical-facts.md); 75 mg confirmed too low",
        "Effexor",
    ),
    _antidepressant("desvenlafaxine", "SNRI", 50, ATRQ_WORKING, "Pristiq"),
    _antidepressant("duloxetine", "SNRI", 60, ATRQ_WORKING, "Cymbalta", also=(_PAIN,)),
    _antidepressant("levomilnacipran", "SNRI", 40, ATRQ_WORKING, "Fetzima"),
    # TCAs
    _antidepressant("amitriptyline", "TCA", 150, ATRQ_WORKING, "Elavil", also=(_PAIN,)),
    _antidepressant("nortriptyline", "TCA", 75, ATRQ_WORKING, "Pamelor", also=(_PAIN,)),
    _antidepressant("imipramine", "TCA", 150, ATRQ_WORKING, "Tofranil"),
    _antidepressant("desipramine", "TCA", 150, ATRQ_WORKING, "Norpramin"),  # brand added
    _antidepressant("clomipramine", "TCA", 150, ATRQ_WORKING, "Anafranil"),
    _antidepressant("doxepin", "TCA", 150, ATRQ_WORKING, "Sinequan"),  # brand added
    _antidepressant("trimipramine", "TCA", 150, ATRQ_WORKING, "Surmontil"),  # brand added
    _antidepressant("protriptyline", "TCA", 30, ATRQ_WORKING, "Vivactil"),  # brand added
    # MAOIs (antidepressant class); rasagiline is in the interaction group only, below.
    _antidepressant("phenelzine", "MAOI", 45, ATRQ_WORKING, "Nardil", also=("maoi",)),
    _antidepressant("tranylcypromine", "MAOI", 30, ATRQ_WORKING, "Parnate", also=("maoi",)),
    _antidepressant("isocarboxazid", "MAOI", 30, ATRQ_WORKING, "Marplan", also=("maoi",)),
    _antidepressant(
        "selegiline",
        "MAOI",
        6,
        "ATRQ working value (clinical-facts.md): transdermal 6 mg/24 h",
        "Emsam",
        also=("maoi",),
    ),
    # Atypical antidepressants
    _antidepressant("bupropion", "atypical", 300, ATRQ_WORKING, "Wellbutrin", "Zyban"),
    _antidepressant("mirtazapine", "atypical", 30, ATRQ_WORKING, "Remeron"),
    _antidepressant("trazodone", "atypical", 300, ATRQ_WORKING, "Desyrel"),
    _antidepressant("nefazodone", "atypical", 300, ATRQ_WORKING, "Serzone"),  # brand added
    _antidepressant("vilazodone", "atypical", 20, ATRQ_WORKING, "Viibryd"),
    _antidepressant("vortioxetine", "atypical", 10, ATRQ_WORKING, "Trintellix"),
    # Augmenting agents and bipolar-depression agents
    _drug("aripiprazole", "augmenting", drug_class="antipsychotic", brands=("Abilify",)),
    _drug("brexpiprazole", "augmenting", drug_class="antipsychotic", brands=("Rexulti",)),
    _drug("olanzapine", "augmenting", drug_class="antipsychotic", brands=("Zyprexa",)),
    _drug(
        "quetiapine",
        "augmenting",
        "bipolar_agent",
        drug_class="antipsychotic",
        minimum=300,
        source=BIPOLAR_WORKING,
        brands=("Seroquel",),
    ),
    _drug(
        "lurasidone",
        "bipolar_agent",
        drug_class="antipsychotic",
        minimum=20,
        source=BIPOLAR_WORKING,
        brands=("Latuda",),
    ),
    _drug(
        "cariprazine",
        "bipolar_agent",
        drug_class="antipsychotic",
        minimum=1.5,
        source=BIPOLAR_WORKING,
        brands=("Vraylar",),
    ),
    _drug(
        "lumateperone",
        "bipolar_agent",
        drug_class="antipsychotic",
        minimum=42,
        source=BIPOLAR_WORKING,
        brands=("Caplyta",),
    ),
    _drug(
        "lamotrigine",
        "bipolar_agent",
        drug_class="mood stabiliser",
        minimum=200,
        source=BIPOLAR_WORKING,
        brands=("Lamictal",),
    ),
    _drug(
        "lithium",
        "augmenting",
        "bipolar_agent",
        drug_class="mood stabiliser",
        minimum=600,
        source=LITHIUM_SOURCE,
        brands=("Lithobid",),  # brand added
    ),
    _drug("liothyronine", "augmenting", "thyroid_replacement", brands=("Cytomel",)),
    _drug("levothyroxine", "thyroid_replacement", brands=("Synthroid",)),
    # Interaction groups (brands added where common, for recognising the drug by name)
    _drug("alprazolam", "benzodiazepine", brands=("Xanax",)),
    _drug("clonazepam", "benzodiazepine", brands=("Klonopin",)),
    _drug("diazepam", "benzodiazepine", brands=("Valium",)),
    _drug("lorazepam", "benzodiazepine", brands=("Ativan",)),
    _drug("temazepam", "benzodiazepine", brands=("Restoril",)),
    *_plain("benzodiazepine", "chlordiazepoxide oxazepam triazolam midazolam clobazam clorazepate"),
    _drug("zolpidem", "sedative_hypnotic", brands=("Ambien",)),
    _drug("zaleplon", "sedative_hypnotic", brands=("Sonata",)),
    _drug("eszopiclone", "sedative_hypnotic", brands=("Lunesta",)),
    _drug("rasagiline", "maoi", brands=("Azilect",)),
    _drug("amphetamine", "psychostimulant", brands=("Adderall",)),
    _drug("dextroamphetamine", "psychostimulant", brands=("Dexedrine",)),
    _drug("lisdexamfetamine", "psychostimulant", brands=("Vyvanse",)),
    _drug("methamphetamine", "psychostimulant", brands=("Desoxyn",)),
    _drug("methylphenidate", "psychostimulant", brands=("Ritalin", "Concerta")),
    _drug("dexmethylphenidate", "psychostimulant", brands=("Focalin",)),
    _drug("modafinil", "psychostimulant", brands=("Provigil",)),
    _drug("armodafinil", "psychostimulant", brands=("Nuvigil",)),
    _drug("morphine", "opioid", _PAIN),
    _drug("oxycodone", "opioid", _PAIN, brands=("OxyContin", "Percocet")),
    _drug("hydrocodone", "opioid", _PAIN, brands=("Vicodin",)),
    _drug("hydromorphone", "opioid", _PAIN, brands=("Dilaudid",)),
    _drug("oxymorphone", "opioid", _PAIN, brands=("Opana",)),
    _drug("fentanyl", "opioid", _PAIN, brands=("Duragesic",)),
    _drug("methadone", "opioid", _PAIN),
    _drug("buprenorphine", "opioid", _PAIN, brands=("Suboxone", "Subutex")),
    _drug("tramadol", "opioid", _PAIN, brands=("Ultram",)),
    _drug("tapentadol", "opioid", _PAIN, brands=("Nucynta",)),
    _drug("codeine", "opioid", _PAIN),
    _drug("naltrexone", "naltrexone", brands=("Vivitrol", "Revia")),
    # Antihypertensives named by ingredient (the -pril, -sartan and -olol classes by suffix)
    *_plain(
        "antihypertensive",
        "nifedipine felodipine diltiazem verapamil chlorthalidone indapamide carvedilol "
        "labetalol clonidine doxazosin prazosin terazosin hydralazine minoxidil eplerenone",
    ),
    _drug("amlodipine", "antihypertensive", brands=("Norvasc",)),
    _drug("hydrochlorothiazide", "antihypertensive"),
    _drug("spironolactone", "antihypertensive", brands=("Aldactone",)),
    _drug("lisinopril", "antihypertensive"),
    _drug("metoprolol", "antihypertensive"),
    # Antithyroid
    _drug("methimazole", "antithyroid", brands=("Tapazole",)),
    *_plain("antithyroid", "carbimazole propylthiouracil"),
    # NSAIDs (all count as pain medication)
    _drug("ibuprofen", "nsaid", _PAIN, brands=("Advil", "Motrin")),
    _drug("naproxen", "nsaid", _PAIN, brands=("Aleve", "Naprosyn")),
    _drug("celecoxib", "nsaid", _PAIN, brands=("Celebrex",)),
    _drug("meloxicam", "nsaid", _PAIN, brands=("Mobic",)),
    _drug("ketorolac", "nsaid", _PAIN, brands=("Toradol",)),
    _drug("indomethacin", "nsaid", _PAIN, brands=("Indocin",)),
    *_plain("nsaid", "diclofenac etodolac nabumetone", _PAIN),
    # Other pain medications
    _drug("gabapentin", _PAIN, brands=("Neurontin",)),
    _drug("pregabalin", _PAIN, brands=("Lyrica",)),
    # Ketamine itself (allergy, and never a prior trial)
    _drug("ketamine", "ketamine", brands=("Ketalar",)),
    _drug("esketamine", "ketamine", brands=("Spravato",)),
]


def _index(table: list[Drug]) -> Mapping[str, Drug]:
    out: dict[str, Drug] = {}
    for d in table:
        if d.ingredient in out:
            raise ValueError(f"{d.ingredient}: listed twice")
        out[d.ingredient] = d
    return MappingProxyType(out)


DRUGS: Mapping[str, Drug] = _index(_TABLE)

_BY_RXNORM: Mapping[str, str] = MappingProxyType(
    {d.rxnorm: d.ingredient for d in _TABLE if d.rxnorm is not None}
)
_BY_NAME: Mapping[str, str] = MappingProxyType(
    {
        **{brand.lower(): d.ingredient for d in _TABLE for brand in d.brands},
        **{d.ingredient: d.ingredient for d in _TABLE},
    }
)
# One alternation of every name, longest first; the suffix classes are any letters before them.
_NAME_PATTERN = re.compile(
    r"\b(?:"
    + "|".join(re.escape(n) for n in sorted(_BY_NAME, key=len, reverse=True))
    + r"|[a-z]{2,}(?:pril|sartan|olol))\b",
    re.IGNORECASE,
)


# Answers by name, kept (bounded): a screening asks of each medication which groups it is in some
# twenty times, and a population repeats the same few hundred names (bench/cohort.py, issue 8).
# Every answer is a function of the name alone, and a Drug is frozen, so sharing one is safe.
_NAMES_KEPT = 4096


@lru_cache(maxsize=_NAMES_KEPT)
def drug(ingredient: str | None) -> Drug | None:
    """The table entry of an ingredient; any -pril, -sartan or -olol name is an antihypertensive."""
    if ingredient is None:
        return None
    name = ingredient.strip().lower()
    found = DRUGS.get(name)
    if found is None and _ANTIHYPERTENSIVE_SUFFIX.match(name):
        return _drug(name, "antihypertensive", source=_ANTIHYPERTENSIVE_SOURCE)
    return found


_GROUP_NAMES = frozenset(GROUPS)
_NO_GROUPS: frozenset[str] = frozenset()


def in_group(ingredient: str | None, group: str) -> bool:
    """Whether the ingredient belongs to ``group`` (one of ``GROUPS``)."""
    if group not in _GROUP_NAMES:
        raise ValueError(f"unknown drug group {group!r} (known: {', '.join(GROUPS)})")
    return group in groups_of(ingredient)


@lru_cache(maxsize=_NAMES_KEPT)
def groups_of(ingredient: str | None) -> frozenset[str]:
    """The groups the ingredient belongs to; none when it is not in the table."""
    found = drug(ingredient)
    return found.groups if found is not None else _NO_GROUPS


@lru_cache(maxsize=_NAMES_KEPT)
def ingredient_from_text(text: str | None) -> str | None:
    """The first ingredient or brand name written as a word in ``text``, case-insensitive.

    Source: spec/screening.md, "Ingredient": "Effexor XR 150 mg" is venlafaxine.
    """
    if not text:
        return None
    match = _NAME_PATTERN.search(text)
    if match is None:
        return None
    word = match.group(0).lower()
    return _BY_NAME.get(word, word)


def ingredient_from_rxnorm(code: str | None) -> str | None:
    """The ingredient of an RxNorm ingredient code in the table, else None."""
    if code is None:
        return None
    return _BY_RXNORM.get(code.strip())


_STRENGTH = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*(mg|mcg|µg|μg|ug|g)\b(?!\s*/\s*(?:ml|l|dl)\b)",
    re.IGNORECASE,
)
_TO_MG = {"mg": 1.0, "g": 1000.0, "mcg": 0.001, "µg": 0.001, "μg": 0.001, "ug": 0.001}


@lru_cache(maxsize=_NAMES_KEPT)
def strength_from_text(text: str | None) -> float | None:
    """The strength per unit written in a product name, in mg.

    None when no strength is written, when it is a concentration (mg/mL: the
    amount per unit is then unknown), or when two different strengths appear
    (a combination product or a list: which one is meant is ambiguous).
    """
    if not text:
        return None
    if re.search(r"\d\s*(?:mg|mcg|µg|μg|ug|g)\s*/\s*(?:ml|l|dl)\b", text, re.IGNORECASE):
        return None
    values = {
        round(float(number) * _TO_MG[unit.lower()], 6) for number, unit in _STRENGTH.findall(text)
    }
    if len(values) != 1:
        return None
    return values.pop()
