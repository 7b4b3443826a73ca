"""The interpolation test vectors of compose-go (``template/template_test.go``), as data.

Ported from compose-spec/compose-go at commit e70e961 (Apache-2.0): every template, mapping and
expected result of that file, checked against prodserver's one substitution grammar. The
vectors are data; no code is copied.

Deliberate differences, each named where it applies:

- Errors: compose-go returns ``InvalidTemplateError`` ("Invalid template") and
  ``MissingRequiredError`` ("required variable X is missing a value: reason"); prodserver raises
  ConfigError PS130 and PS131 ("X is not set: reason"), with the key path. The vectors check the
  code, the variable and the reason.
- Warnings: compose-go logs "The X variable is not set"; prodserver returns the variable in
  ``Substituted.unset`` (the resolver turns it into warning PS202). The lazy-evaluation vectors
  check that list.
- ``TestSubstituteWithCustomFunc`` / ``TestSubstituteWithReplacementFunc`` /
  ``TestSubstituteWithReplacementAppliedFunc`` test compose-go's Go extension hooks (a caller's
  replacement function), which prodserver does not have; only their default-grammar vector
  (``ok ${SUBDOMAIN:-redis}.${FOO:?}``) is ported.
- ``TestSubstitutionFunctionChoice`` tests which operator compose-go's internal helper picks for
  a braced body; it is ported as the observable result of each body with the variable unset
  (the operator right after the name is the one applied).
- compose-go counts a ``{`` as opening a level and skips the character after it, so ``{}``
  inside a default is not balanced there; prodserver balances every ``{`` with its ``}``. The
  results agree on every vector (``${A:-{}}`` gives ``{}`` in both).
"""

from __future__ import annotations

import pytest

from prodserver.config.substitute import substitute
from prodserver.errors import ConfigError

DEFAULTS = {"FOO": "first", "BAR": "", "JSON": '{"json":2}'}

#: (test name in template_test.go, template, expected)
RESULTS = [
    ("TestEscaped", "$${foo}", "${foo}"),
    ("TestSubstituteNoMatch", "foo", "foo"),
    ("TestUnescaped", "a $ string", "a $ string"),
    ("TestUnescaped", "^REGEX$", "^REGEX$"),
    ("TestUnescaped", "$}", "$}"),
    ("TestUnescaped", "$", "$"),
    ("TestNonBraced", "$FOO-bar", "first-bar"),
    ("TestNoValueNoDefault", "This ${missing} var", "This  var"),
    ("TestNoValueNoDefault", "This ${BAR} var", "This  var"),
    ("TestValueNoDefault", "This $FOO var", "This first var"),
    ("TestValueNoDefault", "This ${FOO} var", "This first var"),
    ("TestNoValueWithDefault", "ok ${missing:-def}", "ok def"),
    ("TestNoValueWithDefault", "ok ${missing-def}", "ok def"),
    ("TestLazyDefaultDoesNotWarn", "${A:+${A},}B", "B"),
    ("TestLazyDefaultWarnsWhenUsed", "${A:-${B}}", ""),
    ("TestEmptyValueWithSoftDefault", "ok ${BAR:-def}", "ok def"),
    ("TestValueWithSoftDefault", "ok ${FOO:-def}", "ok first"),
    ("TestEmptyValueWithHardDefault", "ok ${BAR-def}", "ok "),
    ("TestPresentValueWithUnset", "ok ${UNSET_VAR:+presence_value}", "ok "),
    ("TestPresentValueWithUnset2", "ok ${UNSET_VAR+presence_value}", "ok "),
    ("TestPresentValueWithNonEmpty", "ok ${FOO:+presence_value}", "ok presence_value"),
    ("TestPresentValueAndNonEmptyWithNonEmpty", "ok ${FOO+presence_value}", "ok presence_value"),
    ("TestPresentValueWithSet", "ok ${BAR+presence_value}", "ok presence_value"),
    ("TestPresentValueAndNotEmptyWithSet", "ok ${BAR:+presence_value}", "ok "),
    ("TestNonAlphanumericDefault", "ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
    ("TestInterpolationExternalInterference", "-ok ${BAR:-defaultValue}", "-ok defaultValue"),
    ("TestInterpolationExternalInterference", "+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
    ("TestInterpolationExternalInterference", "-ok ${FOO:-defaultValue}", "-ok first"),
    ("TestInterpolationExternalInterference", ":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
    ("TestInterpolationExternalInterference", ":-ok ${BAR-defaultValue}", ":-ok "),
    ("TestInterpolationExternalInterference", ":?ok ${BAR-defaultValue}", ":?ok "),
    ("TestInterpolationExternalInterference", ":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
    ("TestInterpolationExternalInterference", ":+ok ${BAR:-defaultValue}", ":+ok defaultValue"),
    ("TestInterpolationExternalInterference", "+ok ${BAR-defaultValue}", "+ok "),
    ("TestInterpolationExternalInterference", "?ok ${BAR:-defaultValue}", "?ok defaultValue"),
    ("TestDefaultsWithNestedExpansion", "ok ${UNSET_VAR-$FOO}", "ok first"),
    ("TestDefaultsWithNestedExpansion", "ok ${UNSET_VAR-${FOO}}", "ok first"),
    ("TestDefaultsWithNestedExpansion", "ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
    ("TestDefaultsWithNestedExpansion", "ok ${BAR:-$FOO}", "ok first"),
    ("TestDefaultsWithNestedExpansion", "ok ${BAR:-${FOO}}", "ok first"),
    ("TestDefaultsWithNestedExpansion", "ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
    ("TestDefaultsWithNestedExpansion", "ok ${BAR+$FOO}", "ok first"),
    ("TestDefaultsWithNestedExpansion", "ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
    ("TestDefaultsForMandatoryVariables", "ok ${FOO:?err}", "ok first"),
    ("TestDefaultsForMandatoryVariables", "ok ${FOO?err}", "ok first"),
    ("TestDefaultsForMandatoryVariables", "ok ${BAR?err}", "ok "),
    ("TestSubstituteWithReplacementFunc", "ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"),
    ("TestPrecedence", "${UNSET_VAR-myerror?msg}", "myerror?msg"),
    ("TestPrecedence", "${FOO?bar-baz}", "first"),
    ("TestPrecedence", "${BAR:-default_value_for_empty_var}", "default_value_for_empty_var"),
    ("TestPrecedence", "${UNSET_VAR-default_value_for_unset_var}", "default_value_for_unset_var"),
    ("TestSubstitutionFunctionChoice", "${VARNAME:-value}", "value"),
    ("TestSubstitutionFunctionChoice", "${VARNAME-va:-lu:?e}", "va:-lu:?e"),
    ("TestSubstitutionFunctionChoice", "${VARNAME-va+lu?e}", "va+lu?e"),
    ("TestSubstitutionFunctionChoice", "${VARNAME-va?lu+e}", "va?lu+e"),
    ("TestSubstitutionFunctionChoice", "${VARNAME:+va:?lu:-e}", ""),
    ("TestSubstitutionFunctionChoice", "${VARNAME+va:+lue}", ""),
    ("TestSubstitutionFunctionChoice", "${VARNAME+va?lu-e}", ""),
    ("TestSubstitutionFunctionChoice", "${VARNAME+va-lu?e}", ""),
    ("TestNoValueWithCurlyBracesDefault", 'ok ${missing:-{"json":1}}', 'ok {"json":1}'),
    ("TestNoValueWithCurlyBracesDefault", 'ok ${missing-{"json":1}}', 'ok {"json":1}'),
    ("TestValueWithCurlyBracesDefault", 'ok ${JSON:-{"json":1}}', 'ok {"json":2}'),
    ("TestValueWithCurlyBracesDefault", 'ok ${JSON-{"json":1}}', 'ok {"json":2}'),
]

#: (test name, template)
INVALID = [("TestInvalid", t) for t in ["${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}"]]

#: (test name, template, variable, reason)
MISSING = [
    (
        "TestMandatoryVariableErrors",
        "not ok ${UNSET_VAR:?Mandatory Variable Unset}",
        "UNSET_VAR",
        "Mandatory Variable Unset",
    ),
    (
        "TestMandatoryVariableErrors",
        "not ok ${BAR:?Mandatory Variable Empty}",
        "BAR",
        "Mandatory Variable Empty",
    ),
    ("TestMandatoryVariableErrors", "not ok ${UNSET_VAR:?}", "UNSET_VAR", ""),
    (
        "TestMandatoryVariableErrors",
        "not ok ${UNSET_VAR?Mandatory Variable Unset}",
        "UNSET_VAR",
        "Mandatory Variable Unset",
    ),
    ("TestMandatoryVariableErrors", "not ok ${UNSET_VAR?}", "UNSET_VAR", ""),
    (
        "TestMandatoryVariableErrorsWithNestedExpansion",
        "not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
        "UNSET_VAR",
        "Mandatory Variable first",
    ),
    (
        "TestMandatoryVariableErrorsWithNestedExpansion",
        "not ok ${UNSET_VAR?Mandatory Variable ${FOO}}",
        "UNSET_VAR",
        "Mandatory Variable first",
    ),
    ("TestPrecedence", "${UNSET_VAR?bar-baz}", "UNSET_VAR", "bar-baz"),
    ("TestSubstitutionFunctionChoice", "${VARNAME:?val?ue}", "VARNAME", "val?ue"),
    ("TestSubstitutionFunctionChoice", "${VARNAME?val:?ue}", "VARNAME", "val:?ue"),
    ("TestSubstitutionFunctionChoice", "${VARNAME?va-lu+e:?e}", "VARNAME", "va-lu+e:?e"),
    ("TestSubstitutionFunctionChoice", "${VARNAME?va+lu-e:?e}", "VARNAME", "va+lu-e:?e"),
]


@pytest.mark.parametrize(("name", "template", "expected"), RESULTS)
def test_result(name: str, template: str, expected: str) -> None:
    assert substitute(template, DEFAULTS).text == expected, name


@pytest.mark.parametrize(("name", "template"), INVALID)
def test_invalid_template(name: str, template: str) -> None:
    with pytest.raises(ConfigError) as info:
        substitute(template, DEFAULTS)
    assert info.value.code == "PS130", name


@pytest.mark.parametrize(("name", "template", "variable", "reason"), MISSING)
def test_missing_required_variable(name: str, template: str, variable: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        substitute(template, DEFAULTS)
    assert info.value.code == "PS131", name
    message = info.value.message
    assert message.startswith(f"{variable} is "), message
    if reason:
        assert message.endswith(f": {reason}"), message


def test_a_lazy_default_warns_only_when_used() -> None:
    # TestLazyDefaultDoesNotWarn / TestLazyDefaultWarnsWhenUsed / TestLazyRequiredMessage...
    assert substitute("${A:+${A},}B", DEFAULTS).unset == ()
    assert substitute("${A:-${B}}", DEFAULTS).unset == ("B",)
    assert substitute("${A?${B}}", {"A": "value"}).text == "value"
    assert substitute("${A?${B}}", {"A": "value"}).unset == ()


def test_braces_balance_inside_a_default_in_every_position() -> None:
    assert substitute('${X:-{"a":{"b":[1]}}}!', {}).text == '{"a":{"b":[1]}}!'
    assert substitute("${X:-{x}", {}).text == "{x"  # never closed: the first } ends it
    assert substitute("${X:-a}b}", {}).text == "ab}"
