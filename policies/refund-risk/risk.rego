# Refund risk score: weighted signals over a RefundCase, banded into LOW / ELEVATED / HIGH.
#
# Rules are data: every weight, threshold, band limit and the cap lives in data.refund_risk
# (data.json in this bundle). This file only says which input field each signal reads and
# how it is compared, so retuning the model is a data change and a new bundle version.
package refund.risk

params := data.refund_risk

# Which fact each signal reads and how it is compared, in the stable output order.
# object.get with a null default: an absent field (signals.deviceAccounts is optional)
# yields value null instead of making the whole assessment undefined.
signal_defs := [
	{"code": "REFUND_VELOCITY_HIGH", "fact": "customer.refundCount30d", "operator": ">=", "value": object.get(input, ["customer", "refundCount30d"], null)},
	{"code": "HIGH_AMOUNT", "fact": "requestedAmount", "operator": ">", "value": object.get(input, ["requestedAmount"], null)},
	{"code": "NEW_ACCOUNT", "fact": "customer.accountAgeDays", "operator": "<", "value": object.get(input, ["customer", "accountAgeDays"], null)},
	{"code": "PRIOR_CHARGEBACK", "fact": "customer.priorChargebacks", "operator": ">", "value": object.get(input, ["customer", "priorChargebacks"], null)},
	{"code": "IP_RISK_HIGH", "fact": "signals.ipRisk", "operator": "==", "value": object.get(input, ["signals", "ipRisk"], null)},
	{"code": "DEVICE_SHARED", "fact": "signals.deviceAccounts", "operator": ">=", "value": object.get(input, ["signals", "deviceAccounts"], null)},
]

# Array comprehension over an array keeps signal_defs' order, so output is deterministic.
signals := [s |
	some def in signal_defs
	p := params.signals[def.code]
	s := {
		"code": def.code,
		"fired": fired(def.operator, def.value, p.threshold),
		"weight": p.weight,
		"fact": def.fact,
		"operator": def.operator,
		"threshold": p.threshold,
		"value": def.value,
	}
]

# Numeric operators demand a number: Rego orders values across types (null < numbers),
# so an absent fact would otherwise satisfy "<".
default fired(_, _, _) := false

fired(">=", value, threshold) if {
	is_number(value)
	value >= threshold
}

fired(">", value, threshold) if {
	is_number(value)
	value > threshold
}

fired("<", value, threshold) if {
	is_number(value)
	value < threshold
}

fired("==", value, threshold) if value == threshold

score := min([sum([s.weight | some s in signals; s.fired]), params.score_cap])

band := "HIGH" if {
	score >= params.bands.high.min
} else := "ELEVATED" if {
	score >= params.bands.elevated.min
} else := "LOW"

band_reason := {
	"code": "RISK_SCORE_HIGH",
	"effect": "DENY",
	"rule": "band.high",
	"message": concat("", [
		"Risk score ", json.marshal(score),
		" is in the deny band (", json.marshal(params.bands.high.min),
		"-", json.marshal(params.score_cap), ")",
	]),
} if band == "HIGH"

band_reason := {
	"code": "RISK_SCORE_ELEVATED",
	"effect": "REVIEW",
	"rule": "band.elevated",
	"message": concat("", [
		"Risk score ", json.marshal(score),
		" is in the review band (", json.marshal(params.bands.elevated.min),
		"-", json.marshal(params.bands.high.min - 1), ")",
	]),
} if band == "ELEVATED"

# LOW has no band reason, hence no reasons at all; otherwise the band reason comes first,
# then every fired signal with the band's effect.
default reasons := []

reasons := array.concat([band_reason], [r |
	some s in signals
	s.fired
	r := {
		"code": s.code,
		"effect": band_reason.effect,
		"rule": concat(".", ["signal", s.code]),
		"message": signal_message(s),
	}
])

signal_message(s) := concat("", [json.marshal(s.value), " refunds in the last 30 days (threshold ", json.marshal(s.threshold), ")"]) if s.code == "REFUND_VELOCITY_HIGH"

signal_message(s) := concat("", ["Requested amount ", json.marshal(s.value), " is above ", json.marshal(s.threshold), " (minor units)"]) if s.code == "HIGH_AMOUNT"

signal_message(s) := concat("", ["Account is ", json.marshal(s.value), " days old (threshold: under ", json.marshal(s.threshold), ")"]) if s.code == "NEW_ACCOUNT"

signal_message(s) := concat("", [json.marshal(s.value), " prior chargebacks (threshold: more than ", json.marshal(s.threshold), ")"]) if s.code == "PRIOR_CHARGEBACK"

signal_message(s) := concat("", ["IP risk is ", s.value]) if s.code == "IP_RISK_HIGH"

signal_message(s) := concat("", ["Device shared by ", json.marshal(s.value), " accounts (threshold ", json.marshal(s.threshold), ")"]) if s.code == "DEVICE_SHARED"

# A signal missing from data would silently lower every score; leave the assessment
# undefined instead, which callers treat as an evaluation failure.
complete if count(signals) == count(signal_defs)

assessment := {
	"score": score,
	"band": band,
	"signals": signals,
	"reasons": reasons,
} if complete
