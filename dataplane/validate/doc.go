// Package validate holds what nghttpx 1.52 and our router can express: the byte
// sets, lengths and ranges of every user value that reaches the route table or a
// backend= line, and Rule, which checks one model rule against all of them.
//
// Contract: one validation for three callers. The gateway translator rejects a rule,
// route or listener that fails here with a condition on the object; the Ingress
// shim drops the annotation value or path with an Event; the renderer calls the
// same functions as its last line of defence and drops (never fails the Gateway
// for) a piece that still fails. So the translator never accepts what the renderer
// refuses. Pure functions and constants only: the translator must not import the
// renderer, and this package imports nothing but the model.
package validate
