// The staff page: the fragments the hall's kinds bring to it (a slot grid, a door grid, ...).
"use strict";
// Rendered (<html data-rendered>) once every fragment has drawn its first data.
HG.start("staff", async () => {
  HG.expect(["fragments"]);
  await HG.fragments("staff", HG.$("main"));
  HG.drawn("fragments");
});
