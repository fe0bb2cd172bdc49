"""The drug table against clinical-facts.md, with expectations written by hand."""

import pytest

from ketaclinic.clinical import medications as m

# Every ingredient named in clinical-facts.md, copied from the file by hand (not from the table).
FACTS_INGREDIENTS = [
    "fluoxetine",
    "paroxetine",
    "citalopram",
    "escitalopram",
    "sertraline",
    "venlafaxine",
    "fluvoxamine",
    "desvenlafaxine",
    "duloxetine",
    "levomilnacipran",
    "bupropion",
    "mirtazapine",
    "trazodone",
    "nefazodone",
    "vilazodone",
    "vortioxetine",
    "amitriptyline",
    "imipramine",
    "desipramine",
    "clomipramine",
    "doxepin",
    "trimipramine",
    "nortriptyline",
    "protriptyline",
    "phenelzine",
    "tranylcypromine",
    "isocarboxazid",
    "selegiline",
    "aripiprazole",
    "brexpiprazole",
    "quetiapine",
    "olanzapine",
    "lithium",
    "liothyronine",
    "lurasidone",
    "cariprazine",
    "lumateperone",
    "lamotrigine",
    "alprazolam",
    "clonazepam",
    "diazepam",
    "lorazepam",
    "temazepam",
    "chlordiazepoxide",
    "oxazepam",
    "triazolam",
    "midazolam",
    "clobazam",
    "clorazepate",
    "zolpidem",
    "zaleplon",
    "eszopiclone",
    "rasagiline",
    "amphetamine",
    "dextroamphetamine",
    "lisdexamfetamine",
    "methamphetamine",
    "methylphenidate",
    "dexmethylphenidate",
    "modafinil",
    "armodafinil",
    "morphine",
    "oxycodone",
    "hydrocodone",
    "hydromorphone",
    "oxymorphone",
    "fentanyl",
    "methadone",
    "buprenorphine",
    "tramadol",
    "tapentadol",
    "codeine",
    "naltrexone",
    "amlodipine",
    "nifedipine",
    "felodipine",
    "diltiazem",
    "verapamil",
    "hydrochlorothiazide",
    "chlorthalidone",
    "indapamide",
    "carvedilol",
    "labetalol",
    "clonidine",
    "doxazosin",
    "prazosin",
    "terazosin",
    "hydralazine",
    "minoxidil",
    "spironolactone",
    "eplerenone",
    "methimazole",
    "carbimazole",
    "propylthiouracil",
    "levothyroxine",
    "ibuprofen",
    "naproxen",
    "diclofenac",
    "celecoxib",
    "meloxicam",
    "ketorolac",
    "indomethacin",
    "etodolac",
    "nabumetone",
    "gabapentin",
    "pregabalin",
    "ketamine",
    "esketamine",
]

FACTS_BRANDS = {
    "Prozac": "fluoxetine",
    "Zoloft": "sertraline",
    "Paxil": "paroxetine",
    "Celexa": "citalopram",
    "Lexapro": "escitalopram",
    "Luvox": "fluvoxamine",
    "Effexor": "venlafaxine",
    "Effexor XR": "venlafaxine",
    "Pristiq": "desvenlafaxine",
    "Cymbalta": "duloxetine",
    "Fetzima": "levomilnacipran",
    "Wellbutrin": "bupropion",
    "Wellbutrin SR": "bupropion",
    "Wellbutrin XL": "bupropion",
    "Remeron": "mirtazapine",
    "Desyrel": "trazodone",
    "Trintellix": "vortioxetine",
    "Viibryd": "vilazodone",
    "Elavil": "amitriptyline",
    "Pamelor": "nortriptyline",
    "Tofranil": "imipramine",
    "Anafranil": "clomipramine",
    "Nardil": "phenelzine",
    "Parnate": "tranylcypromine",
    "Marplan": "isocarboxazid",
    "Emsam": "selegiline",
    "Seroquel": "quetiapine",
    "Latuda": "lurasidone",
    "Lamictal": "lamotrigine",
    "Vraylar": "cariprazine",
    "Caplyta": "lumateperone",
    "Abilify": "aripiprazole",
    "Rexulti": "brexpiprazole",
}


@pytest.mark.parametrize("ingredient", FACTS_INGREDIENTS)
def test_every_ingredient_of_the_facts_file_is_in_the_table(ingredient: str) -> None:
    found = m.drug(ingredient)
    assert found is not None
    assert found.ingredient == ingredient
    assert found.groups
    assert m.ingredient_from_text(ingredient.upper()) == ingredient


@pytest.mark.parametrize(("brand", "ingredient"), FACTS_BRANDS.items())
def test_every_brand_of_the_facts_file_maps_to_its_ingredient(brand: str, ingredient: str) -> None:
    assert m.ingredient_from_text(brand) == ingredient


# (ingredient, class, minimum mg) from the "Medication table" and bipolar-agent lines.
MINIMUMS = [
    ("fluoxetine", "SSRI", 20),
    ("paroxetine", "SSRI", 20),
    ("citalopram", "SSRI", 20),
    ("escitalopram", "SSRI", 10),
    ("sertraline", "SSRI", 50),
    ("fluvoxamine", "SSRI", 100),
    ("venlafaxine", "SNRI", 150),
    ("desvenlafaxine", "SNRI", 50),
    ("duloxetine", "SNRI", 60),
    ("levomilnacipran", "SNRI", 40),
    ("bupropion", "atypical", 300),
    ("mirtazapine", "atypical", 30),
    ("trazodone", "atypical", 300),
    ("nefazodone", "atypical", 300),
    ("vilazodone", "atypical", 20),
    ("vortioxetine", "atypical", 10),
    ("amitriptyline", "TCA", 150),
    ("imipramine", "TCA", 150),
    ("desipramine", "TCA", 150),
    ("clomipramine", "TCA", 150),
    ("doxepin", "TCA", 150),
    ("trimipramine", "TCA", 150),
    ("nortriptyline", "TCA", 75),
    ("protriptyline", "TCA", 30),
    ("phenelzine", "MAOI", 45),
    ("tranylcypromine", "MAOI", 30),
    ("isocarboxazid", "MAOI", 30),
    ("selegiline", "MAOI", 6),
    ("quetiapine", "antipsychotic", 300),
    ("lurasidone", "antipsychotic", 20),
    ("cariprazine", "antipsychotic", 1.5),
    ("lumateperone", "antipsychotic", 42),
    ("lamotrigine", "mood stabiliser", 200),
    ("lithium", "mood stabiliser", 600),
]


@pytest.mark.parametrize(("ingredient", "drug_class", "minimum"), MINIMUMS)
def test_class_and_minimum_adequate_dose(ingredient: str, drug_class: str, minimum: float) -> None:
    found = m.drug(ingredient)
    assert found is not None
    assert found.drug_class == drug_class
    assert found.minimum_adequate_mg == minimum
    assert found.minimum_source


def test_confirmed_and_working_minimums_say_which() -> None:
    sertraline = m.drug("sertraline")
    venlafaxine = m.drug("venlafaxine")
    assert sertraline is not None and venlafaxine is not None
    assert "confirmed" in sertraline.minimum_source
    assert "working" in venlafaxine.minimum_source


def test_drugs_outside_the_medication_table_have_no_minimum() -> None:
    for ingredient in ("aripiprazole", "gabapentin", "alprazolam", "ketamine"):
        found = m.drug(ingredient)
        assert found is not None
        assert found.minimum_adequate_mg is None


@pytest.mark.parametrize(
    ("ingredient", "group"),
    [
        ("tramadol", "opioid"),
        ("tramadol", "pain_medication"),
        ("gabapentin", "pain_medication"),
        ("pregabalin", "pain_medication"),
        ("duloxetine", "pain_medication"),
        ("amitriptyline", "pain_medication"),
        ("nortriptyline", "pain_medication"),
        ("ibuprofen", "pain_medication"),
        ("nabumetone", "nsaid"),
        ("rasagiline", "maoi"),
        ("selegiline", "maoi"),
        ("phenelzine", "maoi"),
        ("quetiapine", "augmenting"),
        ("quetiapine", "bipolar_agent"),
        ("lithium", "augmenting"),
        ("lithium", "bipolar_agent"),
        ("liothyronine", "augmenting"),
        ("liothyronine", "thyroid_replacement"),
        ("clobazam", "benzodiazepine"),
        ("eszopiclone", "sedative_hypnotic"),
        ("modafinil", "psychostimulant"),
        ("naltrexone", "naltrexone"),
        ("methimazole", "antithyroid"),
        ("lisinopril", "antihypertensive"),
        ("candesartan", "antihypertensive"),
        ("bisoprolol", "antihypertensive"),
        ("amlodipine", "antihypertensive"),
        ("esketamine", "ketamine"),
        ("sertraline", "antidepressant"),
    ],
)
def test_in_group(ingredient: str, group: str) -> None:
    assert m.in_group(ingredient, group)


@pytest.mark.parametrize(
    ("ingredient", "group"),
    [
        ("rasagiline", "antidepressant"),  # an MAOI for interactions, not an antidepressant
        ("sertraline", "pain_medication"),
        ("citalopram", "pain_medication"),
        ("aripiprazole", "bipolar_agent"),
        ("lamotrigine", "augmenting"),
        ("naltrexone", "opioid"),
        ("quetiapine", "antidepressant"),
        ("tramadol", "nsaid"),
        (None, "opioid"),
        ("unknownium", "opioid"),
    ],
)
def test_not_in_group(ingredient: str | None, group: str) -> None:
    assert not m.in_group(ingredient, group)


def test_rasagiline_has_no_antidepressant_class() -> None:
    rasagiline = m.drug("rasagiline")
    selegiline = m.drug("selegiline")
    assert rasagiline is not None and selegiline is not None
    assert rasagiline.drug_class is None
    assert selegiline.drug_class == "MAOI"


def test_unknown_group_is_refused() -> None:
    with pytest.raises(ValueError, match="opiod"):
        m.in_group("tramadol", "opiod")


def test_groups_constant_matches_the_contract() -> None:
    assert m.GROUPS == (
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


@pytest.mark.parametrize(
    ("text", "ingredient"),
    [
        ("Zoloft", "sertraline"),
        ("Lexapro", "escitalopram"),
        ("Effexor XR 150 mg", "venlafaxine"),
        ("fluoxetine 20 MG Oral Capsule", "fluoxetine"),
        ("FLUOXETINE", "fluoxetine"),
        ("Wellbutrin XL 300 mg tablet", "bupropion"),
        ("lisinopril 10 MG Oral Tablet", "lisinopril"),
        ("losartan potassium 50 mg", "losartan"),
        ("Metoprolol succinate ER", "metoprolol"),
        ("Spravato 28 MG nasal spray", "esketamine"),
        ("ketamine hydrochloride", "ketamine"),
        ("escitalopram 10 mg", "escitalopram"),  # not read as citalopram
        ("desvenlafaxine 50 mg", "desvenlafaxine"),  # not read as venlafaxine
        ("lithium carbonate 300 MG", "lithium"),
        ("Seroquel XR", "quetiapine"),
    ],
)
def test_ingredient_from_text(text: str, ingredient: str) -> None:
    assert m.ingredient_from_text(text) == ingredient


@pytest.mark.parametrize(
    "text",
    ["prozacs", "Zoloftish", "fluoxetine20", "Started April 2020", "vitamin D", "", None],
)
def test_ingredient_from_text_needs_a_whole_known_word(text: str | None) -> None:
    assert m.ingredient_from_text(text) is None


@pytest.mark.parametrize(
    ("code", "ingredient"),
    [
        ("36437", "sertraline"),
        ("4493", "fluoxetine"),
        ("39786", "venlafaxine"),
        ("321988", "escitalopram"),
        ("10689", "tramadol"),
        ("6130", "ketamine"),
    ],
)
def test_ingredient_from_rxnorm(code: str, ingredient: str) -> None:
    assert m.ingredient_from_rxnorm(code) == ingredient


def test_unknown_rxnorm_code_is_not_guessed() -> None:
    assert m.ingredient_from_rxnorm("999999999") is None
    assert m.ingredient_from_rxnorm(None) is None


def test_rxnorm_codes_are_unique() -> None:
    codes = [d.rxnorm for d in m.DRUGS.values() if d.rxnorm is not None]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    ("text", "mg"),
    [
        ("20 MG", 20.0),
        ("Sertraline 150 mg tablet", 150.0),
        ("clonazepam 0.5 mg", 0.5),
        ("fluoxetine 20 MG Oral Capsule", 20.0),
        ("Effexor XR 75mg", 75.0),
        ("levothyroxine 50 mcg", 0.05),
        ("Emsam 6 mg/24 hr transdermal", 6.0),
    ],
)
def test_strength_from_text(text: str, mg: float) -> None:
    assert m.strength_from_text(text) == mg


@pytest.mark.parametrize(
    "text",
    [
        "Zoloft",
        "ketamine 50 MG/ML Injectable Solution",  # a concentration, not a unit strength
        "amlodipine 5 MG / benazepril 10 MG Oral Capsule",  # two strengths: ambiguous
        "take 2 tablets",
        "",
        None,
    ],
)
def test_strength_from_text_absent_or_ambiguous(text: str | None) -> None:
    assert m.strength_from_text(text) is None
