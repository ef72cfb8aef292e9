"""blocks.progress: the live line of `blocks make`, on a fake clock (no sleeps)."""
import io

from blocks.progress import PERCENT, Progress, clock_text


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_tty_line_is_rewritten_in_place_at_most_every_quarter_second():
    out, clock = io.StringIO(), Clock()
    p = Progress(out, clock, tty=True)
    p.phase("loading photos", 0, 2750)
    for i in range(1, 11):               # ten photos within 0.1 s: one redraw, the first
        clock.t += 0.01
        p.phase("loading photos", i, 2750)
    assert out.getvalue() == "\rloading photos 0/2750\x1b[K"
    clock.t = 0.3
    p.phase("loading photos", 1200, 2750)
    assert out.getvalue().endswith("\rloading photos 1200/2750\x1b[K") and "\n" not in out.getvalue()
    p.phase("CAM boxes", 0, 2400)        # a new phase shows at once
    assert out.getvalue().endswith("\rCAM boxes 0/2400\x1b[K")


def test_training_line_has_percent_eta_and_check():
    out, clock = io.StringIO(), Clock()
    p = Progress(out, clock, tty=True)
    p.training(1, 0.0, 800)
    clock.t = 100.0
    p.training(340, 0.25, 800, check=0.91, success=0.88)
    line = out.getvalue().rsplit("\r", 1)[1].removesuffix("\x1b[K")
    assert line == "[#####---------------]  25%  step 340/800  ETA 5:00  check 91%  success 88%"
    assert p.percent == 25 and PERCENT.match(line).group(1) == "25"
    clock.t = 200.0
    p.training(700, 0.5)                 # a minutes budget: no step total
    assert "step 700/…  ETA 3:20" in out.getvalue().rsplit("\r", 1)[1]


def test_log_file_gets_a_line_per_phase_then_every_ten_seconds():
    out, clock = io.StringIO(), Clock()
    p = Progress(out, clock, tty=False)
    p.phase("loading photos", 0, 100)
    for i in range(1, 100):
        clock.t += 0.05                  # 5 s of loading: no more lines
        p.phase("loading photos", i, 100)
    p.phase("CAM boxes", 0, 90)
    for step in range(1, 301):
        clock.t = 5 + step * 0.1         # 30 s of training: its first line, then one every 10 s
        p.training(step, step / 300, 300)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["loading photos 0/100", "CAM boxes 0/90"]
    percents = [int(PERCENT.match(x).group(1)) for x in lines[2:]]
    assert len(percents) == 3 and percents[0] == 0 and 32 <= percents[1] <= 34 and 65 <= percents[2] <= 67
    assert "\r" not in out.getvalue()


def test_whole_lines_keep_the_live_line_below_them():
    out, clock, logged = io.StringIO(), Clock(), []
    p = Progress(out, clock, tty=True)
    p.training(50, 0.1, 500)
    say = p.wrap(lambda m: (logged.append(m), out.write(m + "\n")))
    say("step    50  held-out check  91.0%  best  91.0%")
    assert logged == ["step    50  held-out check  91.0%  best  91.0%"]
    assert out.getvalue().endswith("\r\x1b[Kstep    50  held-out check  91.0%  best  91.0%\n"
                                   "\r[##------------------]  10%  step 50/500  ETA 0:00\x1b[K")
    p.close()
    assert out.getvalue().endswith("\n") and not p.live


def test_clock_text():
    assert clock_text(312) == "5:12" and clock_text(3723) == "1:02:03" and clock_text(-1) == "0:00"
