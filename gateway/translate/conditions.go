package translate

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// condition is one condition we computed, before generation and time are applied.
type condition struct {
	Type    string
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

func trueCond(typ, reason, msg string) condition {
	return condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: msg}
}

func falseCond(typ, reason, msg string) condition {
	return condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: msg}
}

// mergeConditions returns old with every condition of set applied and every type in
// owned that set does not contain removed. Conditions of other types are kept as
// they were. LastTransitionTime changes only when a status changes, so an unchanged
// result is equal to old and a status writer can skip it.
func mergeConditions(old []metav1.Condition, set []condition, owned []string, gen int64, now metav1.Time) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(old)+len(set))
	for _, c := range old {
		out = append(out, *c.DeepCopy())
	}
	for _, c := range set {
		meta.SetStatusCondition(&out, metav1.Condition{
			Type:               c.Type,
			Status:             c.Status,
			Reason:             c.Reason,
			Message:            c.Message,
			ObservedGeneration: gen,
			LastTransitionTime: now,
		})
	}
	for _, t := range owned {
		if !slices.ContainsFunc(set, func(c condition) bool { return c.Type == t }) {
			meta.RemoveStatusCondition(&out, t)
		}
	}
	return out
}
