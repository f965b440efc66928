# Tests for ledger.redemption: each guard at and across its boundary, both together, malformed input.
package ledger.redemption_test

import data.ledger.redemption

# Allowed: no hold ever set, balance stays above the minimum.
base := {
	"balance": 1000,
	"amount": 400,
	"minBalanceAfterRedemption": 0,
	"atMs": 1717200000000,
	"holdUntilMs": null,
}

with_input(patch) := object.union(base, patch)

codes(d) := [r.code | some r in d.reasons]

# --- allowed ---

test_allowed_without_hold if {
	d := redemption.decision with input as base
	d == {"allow": true, "reasons": []}
}

test_allowed_when_hold_has_expired if {
	d := redemption.decision with input as with_input({"holdUntilMs": base.atMs - 1})
	d.allow
}

test_allowed_at_the_instant_the_hold_ends if {
	d := redemption.decision with input as with_input({"holdUntilMs": base.atMs})
	d.allow
	d.reasons == []
}

test_allowed_when_leaving_exactly_the_minimum if {
	d := redemption.decision with input as with_input({"amount": 1000})
	d.allow
}

test_allowed_leaving_exactly_a_positive_minimum if {
	d := redemption.decision with input as with_input({"amount": 900, "minBalanceAfterRedemption": 100})
	d.allow
}

test_negative_minimum_allows_redeeming_into_debt if {
	d := redemption.decision with input as with_input({"amount": 1500, "minBalanceAfterRedemption": -500})
	d.allow
}

test_large_amounts_are_exact if {
	d := redemption.decision with input as with_input({"balance": 9007199254740991, "amount": 9007199254740990, "minBalanceAfterRedemption": 1})
	d.allow
}

test_large_amounts_in_messages if {
	d := redemption.decision with input as with_input({"balance": 9007199254740990, "amount": 9007199254740991})
	d.reasons[0].message == "Redeeming 9007199254740991 from a balance of 9007199254740990 would leave -1, below the minimum of 0"
}

# --- guard (a): grace hold ---

test_hold_active_one_ms_before_it_ends if {
	d := redemption.decision with input as with_input({"holdUntilMs": base.atMs + 1})
	not d.allow
	codes(d) == ["REDEMPTION_HOLD_ACTIVE"]
}

test_hold_message_names_the_end if {
	d := redemption.decision with input as with_input({"holdUntilMs": 1717804800000})
	contains(d.reasons[0].message, "1717804800000")
}

# --- guard (b): minimum balance after redemption ---

test_refused_one_unit_below_the_minimum if {
	d := redemption.decision with input as with_input({"amount": 1001})
	not d.allow
	codes(d) == ["INSUFFICIENT_REWARD_BALANCE"]
}

test_refused_below_a_positive_minimum if {
	d := redemption.decision with input as with_input({"amount": 901, "minBalanceAfterRedemption": 100})
	codes(d) == ["INSUFFICIENT_REWARD_BALANCE"]
}

test_negative_balance_blocks_every_redemption if {
	d := redemption.decision with input as with_input({"balance": -250, "amount": 1})
	not d.allow
	codes(d) == ["INSUFFICIENT_REWARD_BALANCE"]
}

test_zero_balance_blocks_redemption if {
	d := redemption.decision with input as with_input({"balance": 0, "amount": 1})
	codes(d) == ["INSUFFICIENT_REWARD_BALANCE"]
}

test_balance_message_names_the_numbers if {
	d := redemption.decision with input as with_input({"balance": -250, "amount": 100})
	d.reasons[0].message == "Redeeming 100 from a balance of -250 would leave -350, below the minimum of 0"
}

# --- both guards ---

test_every_failing_guard_is_listed_in_order if {
	d := redemption.decision with input as with_input({"holdUntilMs": base.atMs + 86400000, "balance": -1})
	not d.allow
	codes(d) == ["REDEMPTION_HOLD_ACTIVE", "INSUFFICIENT_REWARD_BALANCE"]
}

# --- malformed input fails closed ---

test_missing_field_is_refused if {
	d := redemption.decision with input as object.remove(base, ["balance"])
	not d.allow
	codes(d) == ["REDEMPTION_INPUT_INVALID"]
	contains(d.reasons[0].message, "balance must be a number")
}

test_missing_hold_is_refused if {
	d := redemption.decision with input as object.remove(base, ["holdUntilMs"])
	codes(d) == ["REDEMPTION_INPUT_INVALID"]
	d.reasons[0].message == "holdUntilMs must be a number or null"
}

test_string_numbers_are_refused if {
	d := redemption.decision with input as with_input({"amount": "400", "atMs": "2024-06-01T00:00:00Z"})
	not d.allow
	d.reasons[0].message == "amount must be a number; atMs must be a number"
}

test_string_hold_is_refused if {
	d := redemption.decision with input as with_input({"holdUntilMs": "2024-06-08T00:00:00Z"})
	codes(d) == ["REDEMPTION_INPUT_INVALID"]
}

test_non_positive_amount_is_refused if {
	d := redemption.decision with input as with_input({"amount": 0})
	codes(d) == ["REDEMPTION_INPUT_INVALID"]
	d.reasons[0].message == "amount must be greater than 0"
}

test_non_object_input_is_refused if {
	d := redemption.decision with input as [1, 2, 3]
	not d.allow
	codes(d) == ["REDEMPTION_INPUT_INVALID"]
}

test_empty_input_is_refused if {
	d := redemption.decision with input as {}
	not d.allow
	count(d.reasons) == 1
}
