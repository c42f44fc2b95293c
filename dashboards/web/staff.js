// The staff page: the fragments the hall's kinds bring to it (a slot grid, a door grid, ...).
"use strict";
HG.start("staff", () => HG.fragments("staff", HG.$("main")));
