#!/usr/bin/python3
"""Drive hookbot's XEP-0050 commands with slixmpp, an independent requester.

Usage: adhoc_slixmpp.py JID PASSWORD HOST PORT CAFILE BOT_FULL_JID NODE CODE

It lists the bot's commands, runs create (a go_code hook on NODE of the
pubsub.localhost service), list and delete (by id), and prints one JSON
object describing what it saw. It exits 1 when a step fails.
"""
import asyncio
import json
import sys

import slixmpp

CMD_NS = "http://jabber.org/protocol/commands"


def as_list(value):
    """Return a field value as a list of strings (text-multi values come
    back from slixmpp as one string with newlines)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, bool):
        return ["1" if value else "0"]
    if value is None:
        return []
    return str(value).split("\n")


def form_values(form):
    """Return the fields of a data form as {var: [values]}."""
    return {var: as_list(value) for var, value in form.get_values().items()}


class Requester(slixmpp.ClientXMPP):
    def __init__(self, jid, password, bot, node, code):
        super().__init__(jid, password)
        self.bot, self.node, self.code = bot, node, code
        self.result = {}
        self.failed = None
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0050")
        self.add_event_handler("session_start", self.run)

    async def command(self, node, action="execute", sessionid=None, form=None):
        iq = await self["xep_0050"].send_command(
            self.bot, node, action=action, sessionid=sessionid, payload=form,
            timeout=15)
        return iq["command"]

    async def run(self, _event):
        try:
            await self.steps()
        except Exception as exc:  # reported as JSON, then exit 1
            self.failed = "%s: %s" % (type(exc).__name__, exc)
        self.disconnect()

    async def steps(self):
        self.send_presence()
        items = await self["xep_0030"].get_items(jid=self.bot, node=CMD_NS, timeout=15)
        self.result["commands"] = sorted(
            (i[1], i[2]) for i in items["disco_items"]["items"])

        # create: execute → form → complete with the filled form
        cmd = await self.command("create")
        self.result["create_stage"] = {
            "status": cmd["status"], "sessionid": cmd["sessionid"],
            "fields": sorted(cmd["form"].get_fields().keys())}
        form = self["xep_0004"].make_form(ftype="submit")
        form.add_field(var="node", value=self.node)
        form.add_field(var="service", value="pubsub.localhost")
        form.add_field(var="type", value="go_code")
        form.add_field(var="arg", ftype="text-multi", value=self.code.split("\n"))
        form.add_field(var="persistent", ftype="boolean", value=False)
        done = await self.command("create", action="complete",
                                  sessionid=cmd["sessionid"], form=form)
        notes = [n[1] for n in done["notes"]]
        self.result["create"] = {"status": done["status"], "notes": notes,
                                 "sessionid": done["sessionid"],
                                 "form": form_values(done["form"])}
        hook_id = form_values(done["form"])["id"][0]

        # list: a result table
        lst = await self.command("list")
        table = lst["form"]
        self.result["list"] = {
            "status": lst["status"],
            "reported": sorted(table.get_reported().keys()),
            "items": [{k: as_list(v) for k, v in item.items()}
                      for item in table.get_items()],
        }

        # delete by id
        cmd = await self.command("delete")
        form = self["xep_0004"].make_form(ftype="submit")
        form.add_field(var="hooks", ftype="list-multi", value=[hook_id])
        done = await self.command("delete", action="complete",
                                  sessionid=cmd["sessionid"], form=form)
        self.result["delete"] = {"status": done["status"],
                                 "notes": [n[1] for n in done["notes"]]}


def main(argv):
    jid, password, host, port, cafile, bot, node, code = argv[1:9]
    xmpp = Requester(jid, password, bot, node, code)
    xmpp.ca_certs = cafile
    xmpp.connect(address=(host, int(port)), force_starttls=True)
    xmpp.loop.run_until_complete(xmpp.disconnected)
    out = {"result": xmpp.result, "failed": xmpp.failed}
    print(json.dumps(out, default=str))
    return 1 if xmpp.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
