# Redemption gate: the seed paper's Algorithm 3 (CanRedeem), evaluated before every redemption.
#
# Guard (a): no redemption while the grace hold set at statement close is active, so refunds
# arriving just after close are clawed back before the reward can leave the ledger.
# Guard (b): no redemption that would leave the balance below the program's minimum
# (0 by default), so a clawback debt (negative balance) must be repaid before anything
# is redeemed again.
#
# Input (times in epoch milliseconds; no time builtins, which the Wasm target may lack):
#   {"balance", "amount", "minBalanceAfterRedemption", "atMs", "holdUntilMs": number|null}
# Output: {"allow": bool, "reasons": [{"code", "message"}]} listing every failing guard in
# guard order. Malformed input is refused (fail closed), never allowed.
package ledger.redemption

numeric_fields := ["balance", "amount", "minBalanceAfterRedemption", "atMs"]

# "missing" is neither a number nor null, so an absent holdUntilMs is malformed too.
hold_until := object.get(input, "holdUntilMs", "missing")

input_errors contains "input must be an object" if not is_object(input)

input_errors contains concat("", [field, " must be a number"]) if {
	some field in numeric_fields
	not is_number(object.get(input, field, "missing"))
}

input_errors contains "holdUntilMs must be a number or null" if {
	not is_number(hold_until)
	not is_null(hold_until)
}

input_errors contains "amount must be greater than 0" if {
	is_number(input.amount)
	input.amount <= 0
}

# Numbers in messages. Not format_int: its Wasm implementation fails beyond 32-bit integers,
# and epoch milliseconds (or large balances) are well beyond that.
num(x) := json.marshal(x)

# Guard (a). The hold ends at holdUntilMs: a redemption at that very instant is allowed.
hold_active if {
	is_number(hold_until)
	input.atMs < hold_until
}

# Guard (b).
below_minimum if input.balance - input.amount < input.minBalanceAfterRedemption

hold_reasons := [r |
	hold_active
	r := {
		"code": "REDEMPTION_HOLD_ACTIVE",
		"message": concat("", [
			"Redemptions are on hold until ", num(hold_until),
			" (epoch ms): the grace period after statement close lets late refunds be clawed back first",
		]),
	}
]

balance_reasons := [r |
	below_minimum
	r := {
		"code": "INSUFFICIENT_REWARD_BALANCE",
		"message": concat("", [
			"Redeeming ", num(input.amount),
			" from a balance of ", num(input.balance),
			" would leave ", num(input.balance - input.amount),
			", below the minimum of ", num(input.minBalanceAfterRedemption),
		]),
	}
]

reasons := array.concat(hold_reasons, balance_reasons)

invalid_reasons := [{
	"code": "REDEMPTION_INPUT_INVALID",
	"message": concat("; ", sort(input_errors)),
}]

decision := {"allow": false, "reasons": invalid_reasons} if {
	count(input_errors) > 0
} else := {"allow": count(reasons) == 0, "reasons": reasons}
