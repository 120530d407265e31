"""German and English labels. The language is the `gw_lang` cookie (set by the switch in the
page header), else the best of `Accept-Language`, else German."""
from __future__ import annotations

LANGUAGES = ("de", "en")
DEFAULT = "de"

#: key -> (English, German)
TEXTS: dict[str, tuple[str, str]] = {
    "title": ("Gateway console", "Gateway-Konsole"),
    "login": ("Log in", "Anmelden"),
    "logout": ("Log out", "Abmelden"),
    "user": ("User", "Benutzer"),
    "password": ("Password", "Passwort"),
    "login_failed": ("Wrong user name or password.", "Benutzername oder Passwort falsch."),
    "login_locked": ("Too many failed logins: try again in {seconds} seconds.",
                     "Zu viele Fehlversuche: in {seconds} Sekunden erneut versuchen."),
    "csrf_refused": ("The form was refused: its security token is missing or out of date. "
                     "Reload the page and try again.",
                     "Das Formular wurde abgewiesen: Sicherheitstoken fehlt oder ist veraltet. "
                     "Seite neu laden und erneut versuchen."),
    "forbidden": ("You may not open this page.", "Sie dürfen diese Seite nicht öffnen."),
    "not_found": ("Not found.", "Nicht gefunden."),
    "bad_input": ("Please correct the input", "Bitte die Eingabe korrigieren"),
    "dashboard": ("Dashboard", "Übersicht"),
    "messages": ("Messages", "Nachrichten"),
    "partners": ("Partners", "Partner"),
    "audit": ("Audit log", "Prüfprotokoll"),
    "tokens": ("API tokens", "API-Token"),
    "mailbox": ("Mailbox", "Postfach"),
    "language": ("Language", "Sprache"),
    "role": ("Role", "Rolle"),
    "direction": ("Direction", "Richtung"),
    "dir_out": ("outbound", "ausgehend"),
    "dir_in": ("inbound", "eingehend"),
    "state": ("State", "Status"),
    "partner": ("Partner", "Partner"),
    "type": ("Message type", "Nachrichtentyp"),
    "created": ("Created", "Erstellt"),
    "updated": ("Updated", "Geändert"),
    "attempts": ("Attempts", "Versuche"),
    "uuid": ("Message UUID", "Nachrichten-UUID"),
    "client_ref": ("Client reference", "Referenz des Fachverfahrens"),
    "from": ("From", "Von"),
    "until": ("Until", "Bis"),
    "any": ("any", "alle"),
    "filter": ("Filter", "Filtern"),
    "next_page": ("Next page", "Nächste Seite"),
    "first_page": ("First page", "Erste Seite"),
    "none_found": ("Nothing found.", "Nichts gefunden."),
    "counts": ("Messages by state", "Nachrichten nach Status"),
    "oldest_waiting": ("Oldest waiting message", "Älteste wartende Nachricht"),
    "nothing_waiting": ("Nothing is waiting.", "Nichts wartet."),
    "jobs": ("Last job runs", "Letzte Läufe der Aufträge"),
    "job": ("Job", "Auftrag"),
    "last_run": ("Last run", "Letzter Lauf"),
    "result": ("Result", "Ergebnis"),
    "certificates": ("Certificates by expiry", "Zertifikate nach Ablauf"),
    "attention": ("Needs attention", "Zu beachten"),
    "all_well": ("Nothing needs attention.", "Nichts zu beachten."),
    "nodes": ("Nodes", "Knoten"),
    "live": ("live", "aktiv"),
    "gone": ("no heartbeat", "kein Lebenszeichen"),
    "last_success": ("last success", "letzter Erfolg"),
    "last_failure": ("last failure", "letzter Fehler"),
    "waiting": ("waiting", "wartend"),
    "next_run": ("next", "nächster Lauf"),
    "no_expiring": ("No certificate expires soon.", "Kein Zertifikat läuft bald ab."),
    "expires": ("Expires", "Läuft ab"),
    "subject": ("Subject", "Inhaber"),
    "owner": ("Owner", "Gehört zu"),
    "chain": ("Audit chain", "Prüfkette"),
    "chain_intact": ("intact: {count} entries", "intakt: {count} Einträge"),
    "chain_broken": ("BROKEN: {broken}", "GEBROCHEN: {broken}"),
    "health": ("Health", "Zustand"),
    "breaker": ("Breaker", "Sicherung"),
    "transport": ("Transport", "Übertragung"),
    "endpoints": ("Endpoints", "Adressen"),
    "accepts": ("Accepts", "Nimmt an"),
    "timeline": ("Timeline (routing slip)", "Verlauf (Laufzettel)"),
    "at": ("At", "Zeit"),
    "actor": ("By", "Durch"),
    "detail": ("Detail", "Detail"),
    "receipts": ("Receipts", "Quittungen"),
    "positive": ("positive", "positiv"),
    "negative": ("negative", "negativ"),
    "feedback": ("Feedback codes", "Rückmeldecodes"),
    "error": ("Error", "Fehler"),
    "record": ("Record", "Inhalt"),
    "xml": ("XML", "XML"),
    "retry": ("Retry", "Erneut senden"),
    "cancel": ("Cancel", "Abbrechen"),
    "confirm_retry": ("Send message {id} again now?", "Nachricht {id} jetzt erneut senden?"),
    "confirm_cancel": ("Withdraw message {id}? It will not be sent.",
                       "Nachricht {id} zurückziehen? Sie wird nicht gesendet."),
    "yes": ("Yes", "Ja"),
    "back": ("Back", "Zurück"),
    "done_retry": ("Message queued for sending again.", "Nachricht wird erneut gesendet."),
    "done_cancel": ("Message cancelled.", "Nachricht zurückgezogen."),
    "attachments": ("Attachments", "Anlagen"),
    "download": ("Download", "Herunterladen"),
    "reference_only": ("not attached; reference:", "nicht beigefügt; Verweis:"),
    "verify": ("Verify the chain now", "Kette jetzt prüfen"),
    "export": ("Export a range", "Zeitraum exportieren"),
    "export_hint": ("Times in UTC, e.g. 2026-12-01 or 2026-12-01T08:00; empty: from the start / until now.",
                    "Zeiten in UTC, z. B. 2026-12-01 oder 2026-12-01T08:00; leer: vom Anfang / bis jetzt."),
    "event": ("Event", "Ereignis"),
    "recent_entries": ("Latest entries", "Neueste Einträge"),
    "name": ("Name", "Name"),
    "types": ("Message types", "Nachrichtentypen"),
    "active": ("active", "aktiv"),
    "revoked": ("revoked", "widerrufen"),
    "revoke": ("Revoke", "Widerrufen"),
    "create": ("Create", "Anlegen"),
    "new_token": ("New token", "Neues Token"),
    "token_once": ("The token for {name} (shown only now; store it in the backend's secret store):",
                   "Das Token für {name} (wird nur jetzt angezeigt; im Geheimnisspeicher des "
                   "Fachverfahrens ablegen):"),
    "patterns_hint": ("Patterns separated by spaces, e.g. personenstand.* or *",
                      "Muster durch Leerzeichen getrennt, z. B. personenstand.* oder *"),
    "unread": ("unread", "ungelesen"),
    "unit": ("Unit", "Organisationseinheit"),
    "received": ("Received", "Eingegangen"),
    "sender": ("Sender", "Absender"),
    "take_over": ("Take over", "Übernehmen"),
    "taken_over": ("Taken over", "Übernommen"),
    "answer": ("Answer", "Antwort"),
    "answer_sent": ("Answer sent: {state}", "Antwort gesendet: {state}"),
    "send_answer": ("Send the answer", "Antwort senden"),
    "accept": ("Accept", "Annehmen"),
    "refuse": ("Refuse", "Ablehnen"),
    "fee": ("Fee (EUR)", "Gebühr (EUR)"),
    "dispatch": ("Dispatch date", "Versanddatum"),
    "reason": ("Reason", "Grund"),
    "reason_text": ("Explanation for the applicant", "Begründung für die antragstellende Person"),
    "decision": ("Decision", "Entscheidung"),
    "no_units": ("You belong to no mailbox unit.", "Sie gehören zu keiner Organisationseinheit."),
}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the cookie's, else the best of Accept-Language, else German."""
    if cookie in LANGUAGES:
        return cookie
    best, best_q = DEFAULT, -1.0
    for part in (accept_language or "").split(","):
        tag, *params = [p.strip() for p in part.split(";")]
        lang = tag.split("-")[0].lower()
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if lang in LANGUAGES and q > best_q:
            best, best_q = lang, q
    return best


def translator(lang: str):
    """t(key, **values) for one language (KeyError for an unknown key: a test finds them all)."""
    index = 0 if lang == "en" else 1

    def t(key: str, **values) -> str:
        text = TEXTS[key][index]
        return text.format(**values) if values else text
    return t
