import pytest

from examsvc.accounts.ids import InvalidIdNumber, check_digit, id_key, mask, to_15

ID18 = "43010219800101001" + check_digit("43010219800101001")


def test_15_digit_form_maps_to_the_18_digit_key():
    assert id_key(to_15(ID18)) == ID18


@pytest.mark.parametrize(
    "form", ["11010519491231002x", "11010519491231002X", " 110105 19491231002x "]
)
def test_lower_and_upper_x_and_spaces_give_one_key(form):
    assert id_key(form) == "11010519491231002X"


def test_full_width_digits_are_folded():
    assert id_key("４３０１０２１９８００１０１００１" + ID18[-1]) == ID18


def test_wrong_check_digit_is_refused_with_a_clear_message():
    wrong = ID18[:17] + ("0" if ID18[17] != "0" else "1")
    with pytest.raises(InvalidIdNumber) as err:
        id_key(wrong)
    assert "校验码" in err.value.message


def test_passport_numbers_are_kept_upper_case():
    assert id_key("e12345678") == "E12345678"


def test_mask_keeps_only_the_ends():
    assert mask("452123198001013193") == "452*****3193"
    assert "19800101" not in mask("452123198001013193")
